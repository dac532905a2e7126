import { type Logger, pino } from 'pino';

/**
 * JSON-lines logs (pino). Header and field names that can carry a secret are
 * redacted wherever they appear, as a second line of defence: code never logs
 * a secret on purpose.
 */
const REDACT = [
  'authorization',
  'proxy-authorization',
  'x-api-key',
  'x-relay-token',
  'cookie',
  'secret',
  'token',
  'password',
  '*.authorization',
  '*.proxy-authorization',
  '*.x-api-key',
  '*.x-relay-token',
  '*.cookie',
  '*.secret',
  '*.token',
  '*.password',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = { level, base: { service: 'relay' }, redact: { paths: REDACT, censor: '[REDACTED]' } };
  return destination ? pino(options, destination as never) : pino(options);
}
