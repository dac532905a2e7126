import type { Static, TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { UsageError } from '../errors.ts';

/** Parses a JSON-valued option and checks it against the management API's own schema for that field. */
export function parseJsonOption<T extends TSchema>(flag: string, text: string, schema: T): Static<T> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError(`--${flag} is not valid JSON`);
  }
  const first = Value.Errors(schema, parsed).First();
  if (first !== undefined) {
    throw new UsageError(`--${flag}: ${first.path === '' ? 'value' : first.path} ${first.message}`);
  }
  return parsed as Static<T>;
}
