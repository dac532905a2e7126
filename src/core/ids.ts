import { encodeBase62, randomBase62 } from './base62.ts';

/** Object id prefixes. Ids are opaque: a prefix plus 20 base62 characters (~119 bits). */
export const ID_PREFIX = Object.freeze({
  workspace: 'ws_',
  connection: 'conn_',
  recipient: 'rcp_',
  credential: 'cred_',
  managementToken: 'mtok_',
  adminAudit: 'aud_',
  auditEvent: 'evt_',
  shareLink: 'shl_',
  securityEvent: 'sev_',
  ipConfirmation: 'ipc_',
  outboxMessage: 'msg_',
});

export type IdKind = keyof typeof ID_PREFIX;

export function newId(kind: IdKind): string {
  return ID_PREFIX[kind] + randomBase62(20);
}

/** Milliseconds since 1970 fit 7 base62 characters until 2081 (62^7 ms). */
const TIME_CHARS = 7;

/**
 * An id of the same shape whose first 7 characters encode `nowMs`, so that ids
 * made later sort later (base62 digits are in ASCII order); 13 random characters
 * (~77 bits) follow. For audit records: a table that takes thousands of rows a
 * second indexes them by id, and ids in time order land at the end of the index
 * instead of on random pages (half the insert cost). The time is no secret there:
 * each record carries it anyway.
 */
export function newTimeOrderedId(kind: IdKind, nowMs: number): string {
  return ID_PREFIX[kind] + encodeBase62(nowMs, TIME_CHARS) + randomBase62(20 - TIME_CHARS);
}

/** A readable connection id such as `conn_hubspot`: lowercase letters, digits, `_` and `-`. */
export const CONNECTION_ID_PATTERN = '^conn_[a-z0-9][a-z0-9_-]{1,62}$';
const CONNECTION_ID_RE = new RegExp(CONNECTION_ID_PATTERN);
/** Generated ids carry uppercase letters, so both forms share the same namespace without clashing. */
const GENERATED_ID_RE = /^[a-z]+_[0-9A-Za-z]{20}$/;

export function isReadableConnectionId(id: string): boolean {
  return CONNECTION_ID_RE.test(id);
}

export function looksLikeId(id: string): boolean {
  return GENERATED_ID_RE.test(id) || CONNECTION_ID_RE.test(id);
}
