import { ERRORS, RelayError } from '../core/errors.ts';

/**
 * CLI failures. Every one reaches the operator as a single line on stderr that
 * starts `relay: `; the exit code says what kind it was (2: the command line
 * was wrong; 1: the command ran and failed). Stack traces only with RELAY_DEBUG=1.
 */

/** The command line itself is wrong: exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The command ran and could not do its job: exit 1. */
export class CliFailure extends Error {
  override name = 'CliFailure';
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

function messageOf(error: unknown): string {
  if (error instanceof RelayError) {
    const base = error.detail ?? ERRORS[error.code].title;
    const fields = (error.errors ?? []).map((e) => `${e.path}: ${e.message}`).join('; ');
    return fields === '' ? base : `${base} (${fields})`;
  }
  if (error instanceof AggregateError && error.message === '') {
    return error.errors.map(messageOf).join('; ');
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return error.message || (typeof code === 'string' ? code : error.name);
  }
  return String(error);
}

export function exitCodeOf(error: unknown): number {
  return error instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
}

/** The one line printed for a failure, without the `relay: ` prefix. */
export function describeError(error: unknown): string {
  return oneLine(messageOf(error)) || 'unknown error';
}

/** True for the errors `node:util` parseArgs throws on a bad command line. */
export function isParseArgsError(error: unknown): error is Error {
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof Error && typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}
