import { callApi, field } from './relay-api.ts';
import { RELAY_CONNECTION_ID } from './relay-setup.ts';

export type AuditCount =
  | { readonly available: true; readonly entries: number; readonly complete: boolean }
  | { readonly available: false; readonly reason: string };

const PAGE_SIZE = 200;
const COUNT_TIMEOUT_MS = 120_000;

/** Counts every audit entry of the bench connection by paging through `GET /api/v1/audit`. */
export async function countAuditEntries(apiOrigin: string, adminToken: string): Promise<AuditCount> {
  const deadline = Date.now() + COUNT_TIMEOUT_MS;
  let entries = 0;
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ connection_id: RELAY_CONNECTION_ID, limit: String(PAGE_SIZE) });
    if (cursor !== null) query.set('cursor', cursor);
    const response = await callApi(apiOrigin, adminToken, 'GET', `/api/v1/audit?${query}`);
    if (response.status !== 200)
      return { available: false, reason: `GET /api/v1/audit answered ${response.status}` };
    const data = field(response.body, 'data');
    if (!Array.isArray(data)) return { available: false, reason: 'GET /api/v1/audit: no `data` array' };
    entries += data.length;
    const next = field(response.body, 'next_cursor');
    const nextCursor = typeof next === 'string' && next !== '' ? next : null;
    if (nextCursor !== null && (nextCursor === cursor || data.length === 0)) {
      return { available: false, reason: 'GET /api/v1/audit: cursor does not advance' };
    }
    cursor = nextCursor;
  } while (cursor !== null && Date.now() < deadline);
  return { available: true, entries, complete: cursor === null };
}

/**
 * Audit writes are batched, so the last requests may not be stored yet when the
 * load stops: count again until `expected` is reached or the count stops growing.
 */
export async function waitForAuditCount(
  apiOrigin: string,
  adminToken: string,
  expected: number,
): Promise<AuditCount> {
  let previous = -1;
  for (let attempt = 0; ; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const count = await countAuditEntries(apiOrigin, adminToken);
    if (!count.available || !count.complete || count.entries >= expected) return count;
    if (count.entries === previous || attempt >= 10) return count;
    previous = count.entries;
  }
}
