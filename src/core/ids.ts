import { randomBase62 } from './base62.ts';

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
