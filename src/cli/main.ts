import { type ParseArgsConfig, parseArgs } from 'node:util';
import { VERSION } from '../version.ts';
import { type CliIo, type CommandSpec, Flags, type GroupSpec } from './command.ts';
import { adminAuditGroup } from './commands/admin-audit.ts';
import { apiKeysGroup } from './commands/api-keys.ts';
import { auditGroup } from './commands/audit.ts';
import { configGroup } from './commands/config.ts';
import { connectionsGroup } from './commands/connections.ts';
import { credentialsGroup } from './commands/credentials.ts';
import { doctorGroup } from './commands/doctor.ts';
import { initGroup } from './commands/init.ts';
import { keysGroup } from './commands/keys.ts';
import { migrateGroup } from './commands/migrate.ts';
import { outboxGroup } from './commands/outbox.ts';
import { presetsGroup } from './commands/presets.ts';
import { recipientsGroup } from './commands/recipients.ts';
import { startGroup } from './commands/start.ts';
import { tokensGroup } from './commands/tokens.ts';
import { trustedIpsGroup } from './commands/trusted-ips.ts';
import { describeError, exitCodeOf, isParseArgsError, UsageError } from './errors.ts';
import { commandHelp, commandPath, groupHelp, topHelp } from './help.ts';
import { Output } from './output.ts';

/**
 * The `relay` command. `main` never throws and never exits the process: it
 * returns the exit code, so tests run it in-process with their own streams and
 * environment, and `bin/relay.js` sets `process.exitCode` from it.
 */
export const GROUPS: readonly GroupSpec[] = [
  initGroup,
  startGroup,
  doctorGroup,
  connectionsGroup,
  recipientsGroup,
  trustedIpsGroup,
  credentialsGroup,
  tokensGroup,
  apiKeysGroup,
  presetsGroup,
  adminAuditGroup,
  auditGroup,
  outboxGroup,
  keysGroup,
  migrateGroup,
  configGroup,
];

const isHelp = (arg: string | undefined) => arg === '--help' || arg === '-h' || arg === 'help';

/** A usage error names the command and points at its help. */
function usage(path: string, message: string): UsageError {
  return new UsageError(`${path.replace(/^relay /, '')}: ${message} (see "${path} --help")`);
}

function parse(command: CommandSpec, path: string, argv: readonly string[]) {
  const options: NonNullable<ParseArgsConfig['options']> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, o] of Object.entries(command.options)) {
    options[name] = {
      type: o.type,
      ...(o.multiple ? { multiple: true } : {}),
      ...(o.short ? { short: o.short } : {}),
    };
  }
  try {
    return parseArgs({ args: [...argv], options, allowPositionals: true, strict: true, allowNegative: true });
  } catch (error) {
    if (!isParseArgsError(error)) throw error;
    const option = /'(-[^'\s]*)/.exec(error.message)?.[1];
    const code = (error as { code?: string }).code;
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option !== undefined)
      throw usage(path, `unknown option ${option}`);
    throw usage(path, error.message.split('. ')[0] ?? error.message);
  }
}

async function runCommand(group: GroupSpec, command: CommandSpec, argv: readonly string[], io: CliIo) {
  const path = commandPath(group, command);
  const { values, positionals } = parse(command, path, argv);
  const out = new Output(io.stdout);
  if (values.help === true) {
    io.stdout.write(commandHelp(group, command));
    return 0;
  }
  const expected = command.args ?? [];
  // Never echo unexpected arguments: a pasted secret must not reach the terminal or a log.
  if (positionals.length < expected.length)
    throw usage(path, `missing ${expected.slice(positionals.length).join(' ')}`);
  if (positionals.length > expected.length)
    throw usage(path, expected.length === 0 ? 'takes no arguments' : `takes only ${expected.join(' ')}`);
  try {
    return await command.run({ io, out, flags: new Flags(values), args: positionals });
  } catch (error) {
    if (error instanceof UsageError) throw usage(path, error.message);
    throw error;
  }
}

async function dispatch(argv: readonly string[], io: CliIo): Promise<number> {
  const [first, second] = argv;
  if (first === undefined) throw new UsageError('missing command (see "relay --help")');
  if (first === '--version' || first === '-v') {
    io.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (isHelp(first)) {
    const target = second === undefined ? undefined : GROUPS.find((g) => g.name === second);
    io.stdout.write(target ? groupHelp(target) : topHelp(GROUPS));
    return 0;
  }
  const group = GROUPS.find((g) => g.name === first);
  if (!group) throw new UsageError(`unknown command "${first}" (see "relay --help")`);
  const only = group.commands[0];
  if (group.commands.length === 1 && only !== undefined && only.name === '') {
    return runCommand(group, only, argv.slice(1), io);
  }
  if (second === undefined || isHelp(second)) {
    if (second === undefined) {
      const names = group.commands.map((c) => c.name).join(', ');
      throw usage(`relay ${group.name}`, `missing command, one of: ${names}`);
    }
    io.stdout.write(groupHelp(group));
    return 0;
  }
  const command = group.commands.find((c) => c.name === second);
  if (!command) throw usage(`relay ${group.name}`, `unknown command "${second}"`);
  return runCommand(group, command, argv.slice(2), io);
}

/** Runs the CLI; returns the exit code. Every failure is one `relay: …` line on stderr. */
export async function main(argv: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
  const full: CliIo = {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    stdin: io.stdin ?? process.stdin,
    env: io.env ?? process.env,
  };
  try {
    return await dispatch(argv, full);
  } catch (error) {
    full.stderr.write(`relay: ${describeError(error)}\n`);
    if (full.env.RELAY_DEBUG === '1' && error instanceof Error && error.stack)
      full.stderr.write(`${error.stack}\n`);
    return exitCodeOf(error);
  }
}
