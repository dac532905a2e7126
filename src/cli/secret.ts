import type { CliIo, Flags, OptionSpecs } from './command.ts';
import { CliFailure, UsageError } from './errors.ts';

/**
 * Upstream secrets never come from argv: anything on a command line is visible
 * to every local user in `ps` and lands in shell history. They are read from
 * stdin or from an environment variable the operator names.
 */
export const SECRET_OPTIONS: OptionSpecs = {
  'secret-stdin': {
    type: 'boolean',
    help: 'Read the upstream secret from stdin (one trailing newline is dropped).',
  },
  'secret-env': {
    type: 'string',
    value: 'VAR',
    help: 'Read the upstream secret from the environment variable VAR.',
  },
  // Accepted only so that it can be refused with a clear message.
  secret: { type: 'string', help: 'refused', hidden: true },
};

const HOW = 'pipe it with --secret-stdin or name an environment variable with --secret-env VAR';

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

export async function readSecret(io: CliIo, flags: Flags, required: boolean): Promise<string | undefined> {
  if (flags.has('secret')) {
    throw new UsageError(
      `refusing --secret: a secret on the command line is visible in ps and shell history; ${HOW}`,
    );
  }
  const envName = flags.string('secret-env');
  const fromStdin = flags.bool('secret-stdin') === true;
  if (fromStdin && envName !== undefined)
    throw new UsageError('give --secret-stdin or --secret-env, not both');
  if (fromStdin) {
    if (io.stdin.isTTY) io.stderr.write('relay: reading the secret from stdin; end it with Ctrl-D\n');
    const secret = (await readAll(io.stdin)).replace(/\r?\n$/, '');
    if (secret.trim() === '') throw new CliFailure('no secret was given on stdin');
    return secret;
  }
  if (envName !== undefined) {
    const secret = io.env[envName];
    if (secret === undefined || secret.trim() === '')
      throw new CliFailure(`environment variable ${envName} is not set or is empty`);
    return secret;
  }
  if (required) throw new UsageError(`the upstream secret is required: ${HOW} (never on the command line)`);
  return undefined;
}
