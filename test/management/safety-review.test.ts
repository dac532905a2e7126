import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DIALECTS, skipFor, startTestRelay } from '../harness.ts';
import { assertProblem, createConnection, createRecipient, distinctSecret, grant } from './helpers.ts';
import { workspaceState } from './state.ts';

/**
 * SPEC §5, issue 4: the safety review runs on every issue. High findings block
 * (422 risk_acknowledgement_required, nothing written) unless the caller sends
 * acknowledge_risks: true; the findings are stored with the credential and shown
 * again on every read. Low and medium findings alone never block.
 */

interface Finding {
  readonly severity: string;
  readonly code: string;
  readonly message: string;
}

interface Row {
  readonly label: string;
  /** The request body, less `name`. */
  readonly body: (ids: { recipient: string; human: string }) => Record<string, unknown>;
  readonly expected: readonly string[];
}

const HOUR = 3600;
const pinned = { ttl_seconds: HOUR, ip_allowlist: ['203.0.113.0/24'] };

const ROWS: readonly Row[] = [
  {
    label: 'a narrow read',
    body: () => ({ grants: [grant('conn_api', { allowed_paths: ['/v1/items'] })], ...pinned }),
    expected: [],
  },
  {
    label: 'root ** read',
    body: () => ({ grants: [grant('conn_api', { allowed_paths: ['/**'] })], ...pinned }),
    expected: ['medium:root_wildcard', 'medium:reads_sensitive_path'],
  },
  {
    label: 'root ** write',
    body: () => ({
      grants: [grant('conn_api', { allowed_methods: ['GET', 'POST'], allowed_paths: ['/**'] })],
      ...pinned,
    }),
    expected: ['high:root_wildcard', 'high:write_on_sensitive_path'],
  },
  {
    label: 'write on a key-management path',
    body: () => ({
      grants: [grant('conn_api', { allowed_methods: ['POST'], allowed_paths: ['/v1/api-keys'] })],
      ...pinned,
    }),
    expected: ['high:write_on_sensitive_path'],
  },
  {
    label: 'read on a key-management path',
    body: () => ({ grants: [grant('conn_api', { allowed_paths: ['/v1/secrets/*'] })], ...pinned }),
    expected: ['medium:reads_sensitive_path'],
  },
  {
    label: 'write on an administrative path',
    body: () => ({
      grants: [grant('conn_api', { allowed_methods: ['PUT'], allowed_paths: ['/v1/admin/users/*'] })],
      ...pinned,
    }),
    expected: ['high:write_on_admin_path'],
  },
  {
    label: 'money-moving endpoint of the stripe preset',
    body: () => ({
      grants: [grant('conn_stripe', { allowed_methods: ['POST'], allowed_paths: ['/v1/refunds'] })],
      ...pinned,
    }),
    expected: ['high:money_moving'],
  },
  {
    label: "the stripe preset's read-only scope",
    body: () => ({
      grants: [grant('conn_stripe', { allowed_methods: ['GET'], allowed_paths: ['/v1/**'] })],
      ...pinned,
    }),
    expected: ['medium:reads_sensitive_path'],
  },
  {
    label: 'delete allowed',
    body: () => ({
      grants: [grant('conn_api', { allowed_methods: ['DELETE'], allowed_paths: ['/v1/items/*'] })],
      ...pinned,
    }),
    expected: ['medium:delete_allowed'],
  },
  {
    label: 'no expiry',
    body: () => ({
      grants: [grant('conn_api', { allowed_paths: ['/v1/items'] })],
      ip_allowlist: ['203.0.113.0/24'],
    }),
    expected: ['high:no_expiry'],
  },
  {
    label: '45 days',
    body: () => ({
      grants: [grant('conn_api', { allowed_paths: ['/v1/items'] })],
      ttl_seconds: 45 * 86_400,
      ip_allowlist: ['203.0.113.0/24'],
    }),
    expected: ['low:long_lifetime'],
  },
  {
    label: 'a year',
    body: () => ({
      grants: [grant('conn_api', { allowed_paths: ['/v1/items'] })],
      ttl_seconds: 365 * 86_400,
      ip_allowlist: ['203.0.113.0/24'],
    }),
    expected: ['medium:long_lifetime'],
  },
  {
    label: 'a service recipient with no IP restriction',
    body: (ids) => ({
      recipient_id: ids.recipient,
      grants: [grant('conn_api', { allowed_paths: ['/v1/items'] })],
      ttl_seconds: HOUR,
    }),
    expected: ['medium:no_ip_restriction'],
  },
  {
    label: 'a person with new-IP confirmation turned off',
    body: (ids) => ({
      recipient_id: ids.human,
      grants: [grant('conn_api', { allowed_paths: ['/v1/items'] })],
      ttl_seconds: HOUR,
      ip_mode: 'none',
    }),
    expected: ['medium:ip_confirmation_off'],
  },
  {
    label: 'a person with new-IP confirmation (the default)',
    body: (ids) => ({
      recipient_id: ids.human,
      grants: [grant('conn_api', { allowed_paths: ['/v1/items'] })],
      ttl_seconds: HOUR,
    }),
    expected: [],
  },
  {
    label: 'every medium and low finding at once',
    body: () => ({
      grants: [
        grant('conn_api', { allowed_paths: ['/**'] }),
        grant('conn_other', { allowed_methods: ['DELETE'], allowed_paths: ['/v1/items/*'] }),
      ],
      ttl_seconds: 100 * 86_400,
    }),
    expected: [
      'medium:root_wildcard',
      'medium:reads_sensitive_path',
      'medium:delete_allowed',
      'medium:long_lifetime',
      'medium:no_ip_restriction',
    ],
  },
];

const codes = (findings: readonly Finding[]) => findings.map((f) => `${f.severity}:${f.code}`).sort();

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const relay = await startTestRelay(dialect);
    await createConnection(relay, { id: 'conn_api' });
    await createConnection(relay, { id: 'conn_other' });
    const stripe = await relay.api('POST', '/api/v1/connections', {
      id: 'conn_stripe',
      preset: 'stripe',
      name: 'Stripe',
      auth: { secret: distinctSecret('stripe') },
    });
    assert.equal(stripe.status, 201, JSON.stringify(stripe.body));
    const ids = {
      recipient: (await createRecipient(relay, { name: 'svc', kind: 'service' })).id,
      human: (await createRecipient(relay, { name: 'Ada', kind: 'human', email: 'ada@example.com' })).id,
    };

    for (const row of ROWS) {
      const high = row.expected.some((e) => e.startsWith('high:'));
      const body = () => ({ name: row.label, ...row.body(ids) });

      if (high) {
        it(`${row.label}: 422 risk_acknowledgement_required listing ${row.expected.join(', ')}; nothing is written`, async () => {
          const before = await workspaceState(relay);
          for (const ack of [undefined, false]) {
            const res = await relay.api('POST', '/api/v1/credentials', {
              ...body(),
              ...(ack === undefined ? {} : { acknowledge_risks: ack }),
            });
            assertProblem(res, 422, 'risk_acknowledgement_required');
            const listed = (res.body.errors as Array<{ path: string; message: string }>).map((e) => {
              const severity = /^\[(high|medium|low)\] /.exec(e.message)?.[1];
              assert.ok(severity, e.message);
              assert.match(e.path, /^review\//);
              return `${severity}:${e.path.slice('review/'.length)}`;
            });
            assert.deepEqual(listed.sort(), [...row.expected].sort());
            assert.match(res.body.detail, /acknowledge_risks/);
          }
          assert.deepEqual(await workspaceState(relay), before, 'no credential row, no admin-audit row');
        });

        it(`${row.label}: with acknowledge_risks the credential is issued and keeps its findings`, async () => {
          const res = await relay.api('POST', '/api/v1/credentials', { ...body(), acknowledge_risks: true });
          assert.equal(res.status, 201, JSON.stringify(res.body));
          assert.deepEqual(codes(res.body.review.findings), [...row.expected].sort());
          const got = await relay.api('GET', `/api/v1/credentials/${res.body.id}`);
          assert.deepEqual(got.body.review, res.body.review);
          const list = await relay.api('GET', '/api/v1/credentials?limit=200');
          const listed = list.body.data.find((c: { id: string }) => c.id === res.body.id);
          assert.deepEqual(listed.review, res.body.review);
          const audit = await relay.api('GET', '/api/v1/admin-audit?limit=200');
          const row_ = audit.body.data.find((r: { subject: string }) => r.subject === res.body.id);
          assert.equal(row_.action, 'credential.issue');
          assert.equal(row_.metadata.acknowledged_risks, true);
          assert.deepEqual([...row_.metadata.findings].sort(), [...row.expected].sort());
        });
      } else {
        it(`${row.label}: issued without acknowledgement, findings ${row.expected.join(', ') || 'none'}`, async () => {
          const res = await relay.api('POST', '/api/v1/credentials', body());
          assert.equal(res.status, 201, JSON.stringify(res.body));
          assert.deepEqual(codes(res.body.review.findings), [...row.expected].sort());
          for (const f of res.body.review.findings as Finding[]) assert.ok(f.message.length > 20, f.message);
          const got = await relay.api('GET', `/api/v1/credentials/${res.body.id}`);
          assert.deepEqual(got.body.review, res.body.review);
        });
      }
    }

    it('the seed 004 route reviews too, and takes acknowledge_risks', async () => {
      const send = (extra: Record<string, unknown>) =>
        relay.api('POST', '/api/v1/delegated-credentials', {
          connection_id: 'conn_stripe',
          name: 'refunds bot',
          allowed_methods: ['POST'],
          allowed_paths: ['/v1/refunds'],
          ttl_seconds: 900,
          ...extra,
        });
      const before = await workspaceState(relay);
      assertProblem(await send({}), 422, 'risk_acknowledgement_required');
      assert.deepEqual(await workspaceState(relay), before);
      const res = await send({ acknowledge_risks: true });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.ok(codes(res.body.review.findings).includes('high:money_moving'));
    });

    it('findings are reviewed per grant: a safe grant does not hide a risky one', async () => {
      const res = await relay.api('POST', '/api/v1/credentials', {
        name: 'two tools',
        grants: [
          grant('conn_api', { allowed_paths: ['/v1/items'] }),
          grant('conn_stripe', { allowed_methods: ['POST'], allowed_paths: ['/v1/payouts'] }),
        ],
        ...pinned,
      });
      assertProblem(res, 422, 'risk_acknowledgement_required');
      assert.match(res.body.detail, /conn_stripe/);
    });
  });
}
