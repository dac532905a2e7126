import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashToken, isWellFormedToken } from '../../src/core/tokens.ts';
import { DIALECTS, skipFor, startTestRelay } from '../harness.ts';
import { credential as credentialRecord } from '../store/fixtures.ts';
import {
  assertProblem,
  createConnection,
  createRecipient,
  grant,
  issueCredential,
  snapshot,
} from './helpers.ts';

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const relay = await startTestRelay(dialect);
    const { store } = relay.running.relay;
    await createConnection(relay, { id: 'conn_hubspot' });
    await createConnection(relay, { id: 'conn_github', base_url: 'https://api.github.com' });
    const tokens: string[] = [];
    /** Tokens issued through `issue`, whose every response this suite saw. */
    const issuedHere: string[] = [];
    const bodies: string[] = [];
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await relay.api(method, path, body);
      bodies.push(JSON.stringify(res.body ?? ''));
      return res;
    };
    const issue = async (body: Record<string, unknown>) => {
      const res = await api('POST', '/api/v1/credentials', { name: 'cred', ...body });
      if (res.status === 201) {
        tokens.push(res.body.token);
        issuedHere.push(res.body.token);
      }
      return res;
    };

    describe('recipients', () => {
      it('creates a human (e-mail lower-cased), a service and an agent', async () => {
        const human = await api('POST', '/api/v1/recipients', {
          name: 'Ada',
          kind: 'human',
          email: 'Ada@Example.COM',
        });
        assert.equal(human.status, 201, JSON.stringify(human.body));
        assert.match(human.body.id, /^rcp_[0-9A-Za-z]{20}$/);
        assert.equal(human.body.kind, 'human');
        assert.equal(human.body.email, 'ada@example.com');
        assert.equal(human.body.status, 'active');
        assert.equal(human.body.revoked_at, null);
        for (const kind of ['service', 'agent']) {
          const res = await api('POST', '/api/v1/recipients', { name: kind, kind });
          assert.equal(res.status, 201);
          assert.equal(res.body.email, null);
        }
        const got = await api('GET', `/api/v1/recipients/${human.body.id}`);
        assert.deepEqual(got.body, human.body);
        const list = await api('GET', '/api/v1/recipients');
        assert.ok(list.body.data.some((r: { id: string }) => r.id === human.body.id));
      });

      it('a human without an e-mail is 400 and nothing is created', async () => {
        const before = await api('GET', '/api/v1/recipients?limit=200');
        const res = await api('POST', '/api/v1/recipients', { name: 'Bob', kind: 'human' });
        assertProblem(res, 400, 'validation_failed');
        assert.ok(res.body.errors.some((e: { path: string }) => e.path.endsWith('email')));
        assert.deepEqual((await api('GET', '/api/v1/recipients?limit=200')).body, before.body);
      });

      for (const [label, body] of [
        ['an invalid e-mail', { name: 'Bob', kind: 'human', email: 'not-an-email' }],
        ['an unknown kind', { name: 'Bob', kind: 'robot' }],
        ['an empty name', { name: '', kind: 'agent' }],
      ] as const) {
        it(`${label} is 400`, async () => {
          assertProblem(await api('POST', '/api/v1/recipients', body), 400, 'validation_failed');
        });
      }

      it("revoking a recipient revokes all its credentials, and not another recipient's", async () => {
        const r1 = await createRecipient(relay, { name: 'leaver' });
        const r2 = await createRecipient(relay, { name: 'stayer' });
        const ttl_seconds = 3600;
        const a = await issueCredential(relay, {
          recipient_id: r1.id,
          grants: [grant('conn_hubspot')],
          ttl_seconds,
        });
        const b = await issueCredential(relay, {
          recipient_id: r1.id,
          grants: [grant('conn_github')],
          ttl_seconds,
        });
        const other = await issueCredential(relay, {
          recipient_id: r2.id,
          grants: [grant('conn_hubspot')],
          ttl_seconds,
        });
        const standalone = await issueCredential(relay, { grants: [grant('conn_hubspot')], ttl_seconds });
        tokens.push(a.token, b.token, other.token, standalone.token);

        const res = await api('POST', `/api/v1/recipients/${r1.id}/revoke`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.equal(res.body.status, 'revoked');
        assert.ok(res.body.revoked_at);
        assert.deepEqual([...res.body.revoked_credentials].sort(), [a.id, b.id].sort());
        for (const id of [a.id, b.id]) {
          const cred = await api('GET', `/api/v1/credentials/${id}`);
          assert.equal(cred.body.status, 'revoked');
          assert.ok(cred.body.revoked_at);
        }
        for (const id of [other.id, standalone.id]) {
          assert.equal((await api('GET', `/api/v1/credentials/${id}`)).body.status, 'active');
        }
        assert.equal((await api('GET', `/api/v1/recipients/${r2.id}`)).body.status, 'active');
        const stored = await store.credentials.findByHash(hashToken(a.token));
        assert.ok(stored?.revokedAt);
      });

      it('a revoked recipient gets no new credential (409 recipient_revoked)', async () => {
        const r = await createRecipient(relay, { name: 'gone' });
        await api('POST', `/api/v1/recipients/${r.id}/revoke`);
        const res = await issue({ recipient_id: r.id, grants: [grant('conn_hubspot')] });
        assertProblem(res, 409, 'recipient_revoked');
      });

      it('an unknown recipient is 404, for revoke and for a credential', async () => {
        assertProblem(await api('POST', '/api/v1/recipients/rcp_nothere/revoke'), 404, 'not_found');
        assertProblem(await api('GET', '/api/v1/recipients/rcp_nothere'), 404, 'not_found');
        assertProblem(
          await issue({ recipient_id: 'rcp_nothere', grants: [grant('conn_hubspot')] }),
          404,
          'not_found',
        );
      });
    });

    describe('credentials', () => {
      it('issues rk_proxy_ + 32 base62 + 6 checksum, shown once, with its display prefix', async () => {
        const r = await createRecipient(relay, { name: 'ci', kind: 'service' });
        const res = await issue({
          name: 'ci deploys',
          recipient_id: r.id,
          grants: [
            grant('conn_hubspot', {
              allowed_methods: ['get', 'POST'],
              allowed_paths: ['/crm/v3/**'],
              deny_query_params: ['Debug'],
            }),
            grant('conn_github', { allowed_paths: ['/repos/*/issues'] }),
          ],
          // never expires (asserted below), which the safety review flags as high risk
          acknowledge_risks: true,
        });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        const { token, id } = res.body;
        assert.match(id, /^cred_[0-9A-Za-z]{20}$/);
        assert.match(token, /^rk_proxy_[0-9A-Za-z]{38}$/);
        assert.ok(isWellFormedToken(token, 'proxy'));
        assert.equal(res.body.token_prefix, token.slice(0, 'rk_proxy_'.length + 8));
        assert.equal(res.body.status, 'active');
        assert.equal(res.body.recipient_id, r.id);
        assert.equal(res.body.last_used_at, null);
        assert.equal(res.body.expires_at, null);
        assert.deepEqual(res.body.grants, [
          {
            connection_id: 'conn_hubspot',
            allowed_methods: ['GET', 'POST'],
            allowed_paths: ['/crm/v3/**'],
            deny_query_params: ['debug'],
          },
          {
            connection_id: 'conn_github',
            allowed_methods: ['GET'],
            allowed_paths: ['/repos/*/issues'],
            deny_query_params: [],
          },
        ]);
        assert.equal(typeof res.body.agent_prompt, 'string');
        assert.ok(Array.isArray(res.body.review.findings));

        const got = await api('GET', `/api/v1/credentials/${id}`);
        assert.equal(got.status, 200);
        assert.equal('token' in got.body, false);
        assert.equal(got.body.token_prefix, res.body.token_prefix);
        const { token: _token, agent_prompt: _prompt, ...view } = res.body;
        assert.deepEqual(got.body, view);
        const list = await api('GET', '/api/v1/credentials?limit=200');
        const listed = list.body.data.find((c: { id: string }) => c.id === id);
        assert.deepEqual(listed, view);
        const mine = await api('GET', `/api/v1/credentials?recipient_id=${r.id}`);
        assert.deepEqual(
          mine.body.data.map((c: { id: string }) => c.id),
          [id],
        );
      });

      it('the database keeps only the SHA-256 hash, found by it', async () => {
        const res = await issue({ grants: [grant('conn_hubspot')], ttl_seconds: 3600 });
        const stored = await store.credentials.findByHash(hashToken(res.body.token));
        assert.ok(stored);
        assert.equal(stored.id, res.body.id);
        assert.equal(stored.tokenHash, hashToken(res.body.token));
        assert.ok(!JSON.stringify(stored).includes(res.body.token));
        assert.ok(!JSON.stringify(stored).includes(res.body.token.slice('rk_proxy_'.length)));
      });

      it('the seed 004 route issues a single-connection credential', async () => {
        const res = await api('POST', '/api/v1/delegated-credentials', {
          connection_id: 'conn_hubspot',
          name: 'agent run',
          allowed_methods: ['GET'],
          allowed_paths: ['/crm/v3/objects/contacts'],
          ttl_seconds: 900,
        });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        tokens.push(res.body.token);
        assert.ok(isWellFormedToken(res.body.token, 'proxy'));
        assert.equal(res.body.grants.length, 1);
        assert.ok(res.body.expires_at);
      });

      it('ttl_seconds sets expires_at that far ahead', async () => {
        const before = Date.now();
        const res = await issue({ grants: [grant('conn_hubspot')], ttl_seconds: 3600 });
        const after = Date.now();
        assert.equal(res.status, 201);
        const at = Date.parse(res.body.expires_at);
        assert.ok(at >= before + 3600_000 - 1000 && at <= after + 3600_000 + 1000, res.body.expires_at);
      });

      it('expires_at is kept as given (normalised to UTC)', async () => {
        const when = new Date(Date.now() + 86_400_000);
        when.setUTCMilliseconds(0);
        const res = await issue({ grants: [grant('conn_hubspot')], expires_at: when.toISOString() });
        assert.equal(res.status, 201);
        assert.equal(res.body.expires_at, when.toISOString());
        const offset = await issue({
          grants: [grant('conn_hubspot')],
          expires_at: when.toISOString().replace('Z', '+00:00'),
        });
        assert.equal(offset.body.expires_at, when.toISOString());
      });

      const invalidExpiry: ReadonlyArray<readonly [string, Record<string, unknown>, string]> = [
        [
          'both ttl_seconds and expires_at',
          { ttl_seconds: 60, expires_at: new Date(Date.now() + 86_400_000).toISOString() },
          'invalid_expiry',
        ],
        ['expires_at in the past', { expires_at: '2020-01-01T00:00:00Z' }, 'invalid_expiry'],
        ['expires_at more than ten years away', { expires_at: '2999-01-01T00:00:00Z' }, 'invalid_expiry'],
        ['ttl_seconds of more than ten years', { ttl_seconds: 11 * 365 * 24 * 3600 }, 'invalid_expiry'],
        ['ttl_seconds of 0', { ttl_seconds: 0 }, 'validation_failed'],
        ['a fractional ttl_seconds', { ttl_seconds: 1.5 }, 'validation_failed'],
        ['expires_at that is not a date-time', { expires_at: 'tomorrow' }, 'validation_failed'],
      ];
      for (const [label, body, code] of invalidExpiry) {
        it(`${label}: 400 ${code}`, async () => {
          assertProblem(await issue({ grants: [grant('conn_hubspot')], ...body }), 400, code);
        });
      }

      const invalidScope: ReadonlyArray<readonly [string, Record<string, unknown>, string]> = [
        ['an unknown connection', { grants: [grant('conn_nothere')] }, 'invalid_scope'],
        [
          'the same connection twice',
          { grants: [grant('conn_hubspot'), grant('conn_hubspot')] },
          'invalid_scope',
        ],
        [
          'an unknown method',
          { grants: [grant('conn_hubspot', { allowed_methods: ['FETCH'] })] },
          'invalid_scope',
        ],
        [
          'a relative path',
          { grants: [grant('conn_hubspot', { allowed_paths: ['crm/**'] })] },
          'invalid_scope',
        ],
        [
          '* inside a segment',
          { grants: [grant('conn_hubspot', { allowed_paths: ['/crm/v*/x'] })] },
          'invalid_scope',
        ],
        [
          '*** as a segment',
          { grants: [grant('conn_hubspot', { allowed_paths: ['/crm/***'] })] },
          'invalid_scope',
        ],
        [
          'a dot segment',
          { grants: [grant('conn_hubspot', { allowed_paths: ['/crm/../admin'] })] },
          'invalid_scope',
        ],
        [
          'a query in a path',
          { grants: [grant('conn_hubspot', { allowed_paths: ['/crm?x=1'] })] },
          'invalid_scope',
        ],
        ['no grants', { grants: [] }, 'validation_failed'],
        ['no methods', { grants: [grant('conn_hubspot', { allowed_methods: [] })] }, 'validation_failed'],
        ['no paths', { grants: [grant('conn_hubspot', { allowed_paths: [] })] }, 'validation_failed'],
        [
          'an invalid ip_allowlist entry',
          { grants: [grant('conn_hubspot')], ip_allowlist: ['10.0.0.0/33'] },
          'validation_failed',
        ],
        [
          'a host name in ip_allowlist',
          { grants: [grant('conn_hubspot')], ip_allowlist: ['example.com'] },
          'validation_failed',
        ],
        [
          'ip_mode allowlist with no list',
          { grants: [grant('conn_hubspot')], ip_mode: 'allowlist' },
          'validation_failed',
        ],
      ];
      for (const [label, body, code] of invalidScope) {
        it(`${label}: 400 ${code}`, async () => {
          assertProblem(await issue(body), 400, code);
        });
      }

      it('refused issuance changes nothing', async () => {
        const before = await snapshot(relay);
        for (const [, body] of [
          ...invalidExpiry.map(([l, b]) => [l, { grants: [grant('conn_hubspot')], ...b }]),
          ...invalidScope,
        ]) {
          assert.equal((await issue(body as Record<string, unknown>)).status >= 400, true);
        }
        assert.deepEqual(await snapshot(relay), before);
      });

      it('an ip_allowlist sets ip_mode allowlist; a human defaults to confirm_new_ip, an agent to none', async () => {
        const listed = await issue({
          grants: [grant('conn_hubspot')],
          ip_allowlist: ['203.0.113.0/24', '2001:db8::/48'],
          ttl_seconds: 3600,
        });
        assert.equal(listed.status, 201, JSON.stringify(listed.body));
        assert.equal(listed.body.ip_mode, 'allowlist');
        assert.deepEqual(listed.body.ip_allowlist, ['203.0.113.0/24', '2001:db8::/48']);
        const human = await createRecipient(relay, { name: 'H', kind: 'human', email: 'h@example.com' });
        assert.equal(
          (await issue({ recipient_id: human.id, grants: [grant('conn_hubspot')], ttl_seconds: 3600 })).body
            .ip_mode,
          'confirm_new_ip',
        );
        const agent = await createRecipient(relay, { name: 'A', kind: 'agent' });
        assert.equal(
          (await issue({ recipient_id: agent.id, grants: [grant('conn_hubspot')], ttl_seconds: 3600 })).body
            .ip_mode,
          'none',
        );
      });

      it('revoke takes effect at once and is shown on every read', async () => {
        const res = await issue({ grants: [grant('conn_hubspot')], ttl_seconds: 3600 });
        const revoked = await api('POST', `/api/v1/credentials/${res.body.id}/revoke`);
        assert.equal(revoked.status, 200);
        assert.equal(revoked.body.status, 'revoked');
        assert.ok(revoked.body.revoked_at);
        assert.equal((await api('GET', `/api/v1/credentials/${res.body.id}`)).body.status, 'revoked');
        assert.ok((await store.credentials.findByHash(hashToken(res.body.token)))?.revokedAt);
        assertProblem(await api('POST', '/api/v1/credentials/cred_nothere/revoke'), 404, 'not_found');
        assertProblem(await api('GET', '/api/v1/credentials/cred_nothere'), 404, 'not_found');
      });

      it('a credential past its expiry shows status expired', async () => {
        // written straight into the store with a past expiry: no waiting for the clock
        const past = credentialRecord(relay.workspaceId, { expiresAt: '2020-01-01T00:00:00.000Z' });
        await store.credentials.insert(past);
        const got = await api('GET', `/api/v1/credentials/${past.id}`);
        assert.equal(got.status, 200);
        assert.equal(got.body.status, 'expired');
      });

      it('no token ever appears in a read, and the list never shows one', async () => {
        assert.ok(tokens.length >= 10);
        const reads = [
          await api('GET', '/api/v1/credentials?limit=200'),
          await api('GET', '/api/v1/recipients?limit=200'),
          await api('GET', '/api/v1/admin-audit?limit=200'),
        ];
        for (const read of reads) {
          const text = JSON.stringify(read.body);
          for (const token of tokens) assert.ok(!text.includes(token));
        }
        for (const c of reads[0]?.body.data ?? []) assert.equal('token' in c, false);
        const logs = relay.logs.text;
        for (const token of tokens) assert.ok(!logs.includes(token), 'a token reached the logs');
        // each token appeared in exactly one response: its creation
        for (const token of issuedHere) assert.equal(bodies.filter((b) => b.includes(token)).length, 1);
      });
    });
  });
}
