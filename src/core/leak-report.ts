import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { fail, ok, type Result } from './errors.ts';

/**
 * GitHub's secret-scanning partner program, the parts that are pure:
 *
 * - the verification key list, in the format GitHub serves at
 *   `https://api.github.com/meta/public_keys/secret_scanning`:
 *   `{"public_keys":[{"key_identifier","key","is_current"}]}` (PEM, ECDSA P-256);
 * - the signature: `Github-Public-Key-Signature` is the base64 of an ASN.1 DER
 *   ECDSA signature (SHA-256) over the raw request body, made with the key named
 *   by `Github-Public-Key-Identifier`;
 * - the body: a JSON array of `{token, type, url, source}`, and the answer: a
 *   JSON array of `{token_raw, token_type, label}`.
 */

export interface LeakReportKey {
  readonly identifier: string;
  readonly key: KeyObject;
  readonly current: boolean;
}

export interface ReportedToken {
  readonly token: string;
  readonly type: string;
  readonly url: string;
  readonly source: string;
}

export type LeakLabel = 'true_positive' | 'false_positive';

export interface LeakReportAnswer {
  readonly token_raw: string;
  readonly token_type: string;
  readonly label: LeakLabel;
}

/** A batch larger than this is refused whole: GitHub's batches are far smaller. */
export const MAX_REPORTED_TOKENS = 1000;
const MAX_FIELD = 4096;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses a key list; only ECDSA P-256 keys are accepted (the program's only algorithm). */
export function parseKeyList(text: string): Result<ReadonlyMap<string, LeakReportKey>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return fail('validation_failed', 'the key list is not valid JSON');
  }
  if (!isObject(parsed) || !Array.isArray(parsed.public_keys))
    return fail('validation_failed', 'the key list must be {"public_keys": [...]}');
  const keys = new Map<string, LeakReportKey>();
  for (const [i, entry] of parsed.public_keys.entries()) {
    if (!isObject(entry) || typeof entry.key_identifier !== 'string' || typeof entry.key !== 'string')
      return fail('validation_failed', `public_keys[${i}] needs key_identifier and key`);
    let key: KeyObject;
    try {
      key = createPublicKey(entry.key);
    } catch {
      return fail('validation_failed', `public_keys[${i}].key is not a PEM public key`);
    }
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
      return fail('validation_failed', `public_keys[${i}].key is not an ECDSA P-256 key`);
    keys.set(entry.key_identifier, {
      identifier: entry.key_identifier,
      key,
      current: entry.is_current === true,
    });
  }
  return ok(keys);
}

/**
 * True when `signature` (base64 DER) is a valid signature of `body` by the key
 * `identifier` names. Any listed key counts, current or not: GitHub rotates
 * keys and may sign with one that was just replaced.
 */
export function verifyLeakReport(
  keys: ReadonlyMap<string, LeakReportKey>,
  identifier: string | undefined,
  signature: string | undefined,
  body: Buffer,
): boolean {
  if (identifier === undefined || signature === undefined) return false;
  const key = keys.get(identifier);
  if (key === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(signature.trim())) return false;
  try {
    return verify('sha256', body, { key: key.key, dsaEncoding: 'der' }, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

const field = (entry: Record<string, unknown>, name: string, required: boolean): string | undefined => {
  const value = entry[name];
  if (value === undefined && !required) return '';
  return typeof value === 'string' && value.length <= MAX_FIELD ? value : undefined;
};

/** The report's entries: `token` and `type` required, `url` and `source` optional (older senders omit `source`). */
export function parseLeakReport(body: Buffer): Result<readonly ReportedToken[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return fail('invalid_json', 'the report is not valid JSON');
  }
  if (!Array.isArray(parsed)) return fail('validation_failed', 'the report must be a JSON array');
  if (parsed.length > MAX_REPORTED_TOKENS)
    return fail('validation_failed', `a report may carry at most ${MAX_REPORTED_TOKENS} tokens`);
  const out: ReportedToken[] = [];
  for (const [i, entry] of parsed.entries()) {
    if (!isObject(entry)) return fail('validation_failed', `[${i}] must be an object`);
    const token = field(entry, 'token', true);
    const type = field(entry, 'type', true);
    const url = field(entry, 'url', false);
    const source = field(entry, 'source', false);
    if (
      token === undefined ||
      token === '' ||
      type === undefined ||
      url === undefined ||
      source === undefined
    )
      return fail('validation_failed', `[${i}] needs string token and type (url, source optional)`);
    out.push({ token, type, url, source });
  }
  return ok(out);
}
