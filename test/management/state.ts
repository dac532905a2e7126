import assert from 'node:assert/strict';
import type { TestRelay } from '../harness.ts';

/**
 * Everything a workspace holds, every page of every list (the admin audit
 * included, however long it grows): to prove that a refused request changed
 * nothing. `last_used_at` moves on its own when a token is used, so it is left out.
 */
export async function workspaceState(relay: TestRelay): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const strip = (body: unknown) =>
    JSON.parse(JSON.stringify(body), (key, value) => (key === 'last_used_at' ? undefined : value));
  for (const list of [
    '/api/v1/connections',
    '/api/v1/recipients',
    '/api/v1/credentials',
    '/api/v1/tokens',
    '/api/v1/admin-audit',
  ]) {
    const rows: unknown[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
      const res = await relay.api('GET', `${list}?limit=200${query}`);
      assert.equal(res.status, 200, `${list}: ${JSON.stringify(res.body)}`);
      rows.push(...res.body.data);
      cursor = res.body.next_cursor;
    } while (cursor !== null);
    out[list] = strip(rows);
  }
  const keys = await relay.api('GET', '/api/v1/auth/api-keys');
  assert.equal(keys.status, 200);
  out['/api/v1/auth/api-keys'] = strip(keys.body);
  const workspace = await relay.api('GET', '/api/v1/workspace');
  assert.equal(workspace.status, 200);
  out['/api/v1/workspace'] = workspace.body;
  return out;
}
