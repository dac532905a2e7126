import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashToken, isWellFormedToken } from '../../src/core/tokens.ts';
import { type ApiResponse, DIALECTS, skipFor, startTestRelay } from '../harness.ts';
import { assertProblem } from './helpers.ts';
import { workspaceState } from './state.ts';

/** SPEC §3: rotating a management token returns a new secret; the old one works for the chosen grace period. */

function assertInvalidKey(res: ApiResponse): void {
  assertProblem(res, 401, 'unauthenticated');
  assert.equal(res.body.detail, 'Invalid or missing API key');
}

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const relay = await startTestRelay(dialect);
    const { db } = relay.running.relay.store;
    const read = (token: string) => relay.api('GET', '/api/v1/connections', undefined, token);
    const newToken = async (role = 'admin'): Promise<{ id: string; token: string }> => {
      const res = await relay.api('POST', '/api/v1/tokens', { name: 'rotating', role });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body;
    };
    const rotate = (id: string, body?: unknown) => relay.api('POST', `/api/v1/tokens/${id}/rotate`, body);

    it('grace 60 s: a new secret that works, and the old one keeps working meanwhile', async () => {
      const old = await newToken();
      const before = Date.now();
      const res = await rotate(old.id, { grace_period_seconds: 60 });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.id, old.id, 'the same token, a new secret');
      assert.ok(isWellFormedToken(res.body.token, 'management'));
      assert.notEqual(res.body.token, old.token);
      assert.equal(res.body.token_prefix, res.body.token.slice(0, 'rk_mgmt_'.length + 8));
      const graceEnds = Date.parse(res.body.previous_valid_until);
      assert.ok(
        graceEnds >= before + 59_000 && graceEnds <= Date.now() + 61_000,
        res.body.previous_valid_until,
      );
      assert.equal((await read(res.body.token)).status, 200);
      assert.equal((await read(old.token)).status, 200);
      const stored = await relay.running.relay.store.managementTokens.findByHash(hashToken(res.body.token));
      assert.equal(stored?.id, old.id);
      assert.equal(stored?.tokenHash, hashToken(res.body.token));
    });

    it('grace 0: the old secret stops at once', async () => {
      const old = await newToken();
      const res = await rotate(old.id, { grace_period_seconds: 0 });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assertInvalidKey(await read(old.token));
      assert.equal((await read(res.body.token)).status, 200);
    });

    const defaultGrace = async (body: unknown) => {
      const old = await newToken();
      const before = Date.now();
      const res = await rotate(old.id, body);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const graceEnds = Date.parse(res.body.previous_valid_until);
      assert.ok(graceEnds >= before + 3_599_000 && graceEnds <= Date.now() + 3_601_000);
      assert.equal((await read(old.token)).status, 200);
    };

    it('an empty body: the default grace is one hour', () => defaultGrace({}));

    it('no body at all: the default grace is one hour', {}, () => defaultGrace(undefined));

    it('past its grace period the rotated-out secret is refused; the new one is not', async () => {
      const old = await newToken();
      const res = await rotate(old.id, { grace_period_seconds: 3600 });
      assert.equal((await read(old.token)).status, 200);
      await db
        .updateTable('management_tokens')
        .set({ previous_valid_until: new Date(Date.now() - 1000).toISOString() })
        .where('id', '=', old.id)
        .execute();
      assertInvalidKey(await read(old.token));
      assert.equal((await read(res.body.token)).status, 200);
    });

    it('a second rotation retires the first secret: only the latest previous one has a grace period', async () => {
      const first = await newToken();
      const second = await rotate(first.id, { grace_period_seconds: 600 });
      const third = await rotate(first.id, { grace_period_seconds: 600 });
      assert.equal(third.status, 200);
      assertInvalidKey(await read(first.token));
      assert.equal((await read(second.body.token)).status, 200);
      assert.equal((await read(third.body.token)).status, 200);
    });

    it('revoke kills the old and the new secret at once, grace or not', async () => {
      const old = await newToken();
      const res = await rotate(old.id, { grace_period_seconds: 3600 });
      assert.equal((await read(old.token)).status, 200);
      const revoked = await relay.api('POST', `/api/v1/tokens/${old.id}/revoke`);
      assert.equal(revoked.status, 200);
      assert.equal(revoked.body.status, 'revoked');
      assertInvalidKey(await read(old.token));
      assertInvalidKey(await read(res.body.token));
    });

    it('rotating a revoked token is 409 conflict; an unknown one 404; either changes nothing', async () => {
      const old = await newToken();
      await relay.api('POST', `/api/v1/tokens/${old.id}/revoke`);
      const before = await workspaceState(relay);
      assertProblem(await rotate(old.id, { grace_period_seconds: 60 }), 409, 'conflict');
      assertProblem(await rotate('mtok_nothere', { grace_period_seconds: 60 }), 404, 'not_found');
      assertInvalidKey(await read(old.token));
      assert.deepEqual(await workspaceState(relay), before);
    });

    for (const [label, body] of [
      ['a negative grace', { grace_period_seconds: -1 }],
      ['a fractional grace', { grace_period_seconds: 1.5 }],
      ['a grace of more than 30 days', { grace_period_seconds: 30 * 86_400 + 1 }],
      ['an unknown field', { grace: 60 }],
    ] as const) {
      it(`${label} is 400 and the old secret keeps working alone`, async () => {
        const old = await newToken();
        const before = await workspaceState(relay);
        assertProblem(await rotate(old.id, body), 400, 'validation_failed');
        assert.deepEqual(await workspaceState(relay), before);
        assert.equal((await read(old.token)).status, 200);
      });
    }

    it('keeps role and limits: a rotated viewer is still a viewer', async () => {
      const viewer = await newToken('viewer');
      const res = await rotate(viewer.id, { grace_period_seconds: 60 });
      assert.equal(res.body.role, 'viewer');
      for (const token of [viewer.token, res.body.token]) {
        assert.equal((await read(token)).status, 200);
        assertProblem(
          await relay.api('POST', '/api/v1/recipients', { name: 'x', kind: 'agent' }, token),
          403,
          'forbidden',
        );
      }
    });

    it('is audited, and neither secret appears in a list, the audit or the logs', async () => {
      const old = await newToken();
      const res = await rotate(old.id, { grace_period_seconds: 120 });
      const audit = await relay.api('GET', '/api/v1/admin-audit?limit=200');
      const row = audit.body.data.filter((r: { subject: string }) => r.subject === old.id).at(-1);
      assert.equal(row.action, 'management_token.rotate');
      assert.equal(row.metadata.grace_period_seconds, 120);
      const tokens = await relay.api('GET', '/api/v1/tokens?limit=200');
      const listed = tokens.body.data.find((t: { id: string }) => t.id === old.id);
      assert.equal(listed.token_prefix, res.body.token_prefix);
      assert.equal(listed.previous_valid_until, res.body.previous_valid_until);
      for (const text of [JSON.stringify(tokens.body), JSON.stringify(audit.body), relay.logs.text]) {
        assert.ok(!text.includes(old.token));
        assert.ok(!text.includes(res.body.token));
      }
    });
  });
}
