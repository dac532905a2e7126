import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Grant, IpMode, RecipientKind } from '../../src/core/model.ts';
import { findPreset, type Preset } from '../../src/core/presets.ts';
import { hasHighFindings, type ReviewInput, reviewScope } from '../../src/core/safety-review.ts';

/**
 * SPEC §5: the scope safety review run before every credential is issued. Each
 * row changes one thing from a scope that draws no finding at all (GET on one
 * literal path, one hour, a service pinned to an IP allowlist) and names the
 * findings it must draw, as `severity:code`.
 */

interface Row {
  readonly label: string;
  readonly methods?: readonly string[];
  readonly paths?: readonly string[];
  readonly preset?: string;
  readonly ttlSeconds?: number | null;
  readonly recipientKind?: RecipientKind | null;
  readonly ipMode?: IpMode;
  readonly expected: readonly string[];
  /** Set when the row describes behaviour src does not have yet: the reason, as a tracking note. */
  readonly todo?: string;
}

const DAY = 86_400;

function input(row: Row): ReviewInput {
  const preset: Preset | undefined = row.preset === undefined ? undefined : findPreset(row.preset);
  if (row.preset !== undefined) assert.ok(preset, `no preset ${row.preset}`);
  const grant: Grant = {
    connection_id: 'conn_x',
    allowed_methods: row.methods ?? ['GET'],
    allowed_paths: row.paths ?? ['/v1/items'],
    deny_query_params: [],
  };
  return {
    grants: [grant],
    presets: new Map([['conn_x', preset]]),
    ttlSeconds: row.ttlSeconds === undefined ? 3600 : row.ttlSeconds,
    recipientKind: row.recipientKind === undefined ? 'service' : row.recipientKind,
    ipMode: row.ipMode ?? 'allowlist',
  };
}

const ROWS: readonly Row[] = [
  { label: 'GET on one literal path, one hour, pinned service', expected: [] },
  // root wildcards
  { label: 'GET /**', paths: ['/**'], expected: ['medium:root_wildcard', 'medium:reads_sensitive_path'] },
  {
    label: 'GET /**/items',
    paths: ['/**/items'],
    expected: ['medium:root_wildcard', 'medium:reads_sensitive_path'],
  },
  {
    label: 'POST /**',
    methods: ['POST'],
    paths: ['/**'],
    expected: ['high:root_wildcard', 'high:write_on_sensitive_path'],
  },
  // key management
  {
    label: 'POST /v1/api-keys',
    methods: ['POST'],
    paths: ['/v1/api-keys'],
    expected: ['high:write_on_sensitive_path'],
  },
  {
    label: 'PUT /v1/oauth/clients',
    methods: ['PUT'],
    paths: ['/v1/oauth/clients'],
    expected: ['high:write_on_sensitive_path'],
  },
  {
    label: 'PATCH /v1/projects/*/secrets/*',
    methods: ['PATCH'],
    paths: ['/v1/projects/*/secrets/*'],
    expected: ['high:write_on_sensitive_path'],
  },
  { label: 'GET /v1/api-keys', paths: ['/v1/api-keys'], expected: ['medium:reads_sensitive_path'] },
  { label: 'GET /v1/tokens/*', paths: ['/v1/tokens/*'], expected: ['medium:reads_sensitive_path'] },
  {
    label: 'POST /v1/customers/** (a ** reaches any key endpoint below)',
    methods: ['POST'],
    paths: ['/v1/customers/**'],
    expected: ['high:write_on_sensitive_path'],
  },
  {
    label: 'POST /v1/customers/* (a * is an id, not a key path)',
    methods: ['POST'],
    paths: ['/v1/customers/*'],
    expected: [],
  },
  {
    label: 'POST on a percent-encoded key path /v1/api%2Dkeys (= /v1/api-keys)',
    methods: ['POST'],
    paths: ['/v1/api%2Dkeys'],
    expected: ['high:write_on_sensitive_path'],
  },
  // administration
  {
    label: 'POST /v1/admin/users',
    methods: ['POST'],
    paths: ['/v1/admin/users'],
    expected: ['high:write_on_admin_path'],
  },
  {
    label: 'PATCH /v1/settings',
    methods: ['PATCH'],
    paths: ['/v1/settings'],
    expected: ['high:write_on_admin_path'],
  },
  {
    label: 'PUT /v1/orgs/*/members/*',
    methods: ['PUT'],
    paths: ['/v1/orgs/*/members/*'],
    expected: ['high:write_on_admin_path'],
  },
  // money-moving endpoints come from presets
  {
    label: 'stripe: POST /v1/charges',
    preset: 'stripe',
    methods: ['POST'],
    paths: ['/v1/charges'],
    expected: ['high:money_moving'],
  },
  {
    label: 'stripe: POST /v1/payment_intents/*/confirm',
    preset: 'stripe',
    methods: ['POST'],
    paths: ['/v1/payment_intents/*/confirm'],
    expected: ['high:money_moving'],
  },
  {
    label: 'stripe: POST /v1/invoices/*/pay',
    preset: 'stripe',
    methods: ['POST'],
    paths: ['/v1/invoices/*/pay'],
    expected: ['high:money_moving'],
  },
  {
    label: 'stripe: GET /v1/charges (reading moves no money)',
    preset: 'stripe',
    paths: ['/v1/charges'],
    expected: [],
  },
  {
    label: 'stripe: POST /v1/customers',
    preset: 'stripe',
    methods: ['POST'],
    paths: ['/v1/customers'],
    expected: [],
  },
  { label: 'no preset: POST /v1/charges', methods: ['POST'], paths: ['/v1/charges'], expected: [] },
  {
    label: "stripe: POST /v1/webhook_endpoints (the preset's own sensitive path)",
    preset: 'stripe',
    methods: ['POST'],
    paths: ['/v1/webhook_endpoints'],
    expected: ['high:write_on_sensitive_path'],
  },
  {
    label: 'no preset: POST /v1/webhook_endpoints',
    methods: ['POST'],
    paths: ['/v1/webhook_endpoints'],
    expected: [],
  },
  {
    label: 'hubspot: POST /commerce/v1/payments',
    preset: 'hubspot',
    methods: ['POST'],
    paths: ['/commerce/v1/payments'],
    expected: ['high:money_moving'],
  },
  // deletes
  {
    label: 'DELETE /v1/items/*',
    methods: ['DELETE'],
    paths: ['/v1/items/*'],
    expected: ['medium:delete_allowed'],
  },
  {
    label: 'DELETE /v1/api-keys/*',
    methods: ['DELETE'],
    paths: ['/v1/api-keys/*'],
    expected: ['high:write_on_sensitive_path', 'medium:delete_allowed'],
  },
  // lifetime
  { label: 'no expiry', ttlSeconds: null, expected: ['high:no_expiry'] },
  { label: '30 days', ttlSeconds: 30 * DAY, expected: [] },
  { label: '31 days', ttlSeconds: 31 * DAY, expected: ['low:long_lifetime'] },
  { label: '90 days', ttlSeconds: 90 * DAY, expected: ['low:long_lifetime'] },
  { label: '91 days', ttlSeconds: 91 * DAY, expected: ['medium:long_lifetime'] },
  // network restriction
  { label: 'a service with no IP restriction', ipMode: 'none', expected: ['medium:no_ip_restriction'] },
  {
    label: 'an agent with no IP restriction',
    recipientKind: 'agent',
    ipMode: 'none',
    expected: ['medium:no_ip_restriction'],
  },
  {
    label: 'a standalone credential with no IP restriction',
    recipientKind: null,
    ipMode: 'none',
    expected: ['medium:no_ip_restriction'],
  },
  { label: 'an agent pinned to an allowlist', recipientKind: 'agent', expected: [] },
  {
    label: 'a person with new-IP confirmation off',
    recipientKind: 'human',
    ipMode: 'none',
    expected: ['medium:ip_confirmation_off'],
  },
  {
    label: 'a person with new-IP confirmation',
    recipientKind: 'human',
    ipMode: 'confirm_new_ip',
    expected: [],
  },
  {
    label: 'GET /*/** reaches every path but the root',
    paths: ['/*/**'],
    expected: ['medium:root_wildcard', 'medium:reads_sensitive_path'],
  },
  // everything at once: high findings first
  {
    label: 'POST+DELETE /** forever for a person without IP confirmation',
    methods: ['POST', 'DELETE'],
    paths: ['/**'],
    ttlSeconds: null,
    recipientKind: 'human',
    ipMode: 'none',
    expected: [
      'high:root_wildcard',
      'high:write_on_sensitive_path',
      'high:no_expiry',
      'medium:delete_allowed',
      'medium:ip_confirmation_off',
    ],
  },
];

const RANK = { high: 0, medium: 1, low: 2 } as const;

describe('reviewScope', () => {
  for (const row of ROWS) {
    it(`${row.label}: ${row.expected.join(', ') || 'no finding'}`, row.todo ? { todo: row.todo } : {}, () => {
      const findings = reviewScope(input(row));
      assert.deepEqual(findings.map((f) => `${f.severity}:${f.code}`).sort(), [...row.expected].sort());
      assert.equal(
        hasHighFindings(findings),
        row.expected.some((e) => e.startsWith('high:')),
      );
      const ranks = findings.map((f) => RANK[f.severity]);
      assert.deepEqual(
        ranks,
        [...ranks].sort((a, b) => a - b),
        'high findings come first',
      );
      for (const f of findings) {
        assert.ok(f.message.length > 20, `${f.code}: a plain explanation`);
        if (!['no_expiry', 'long_lifetime', 'no_ip_restriction', 'ip_confirmation_off'].includes(f.code))
          assert.match(f.message, /conn_x/, `${f.code}: names the connection`);
      }
    });
  }

  it('reviews each grant with its own preset', () => {
    const findings = reviewScope({
      grants: [
        {
          connection_id: 'conn_stripe',
          allowed_methods: ['POST'],
          allowed_paths: ['/v1/charges'],
          deny_query_params: [],
        },
        {
          connection_id: 'conn_plain',
          allowed_methods: ['POST'],
          allowed_paths: ['/v1/charges'],
          deny_query_params: [],
        },
      ],
      presets: new Map([
        ['conn_stripe', findPreset('stripe')],
        ['conn_plain', undefined],
      ]),
      ttlSeconds: 3600,
      recipientKind: 'service',
      ipMode: 'allowlist',
    });
    assert.deepEqual(
      findings.map((f) => `${f.severity}:${f.code}`),
      ['high:money_moving'],
    );
    assert.match(findings[0]?.message ?? '', /conn_stripe/);
  });

  it('hasHighFindings is false for low and medium findings alone', () => {
    assert.equal(hasHighFindings([]), false);
    assert.equal(
      hasHighFindings([
        { severity: 'medium', code: 'x', message: 'm' },
        { severity: 'low', code: 'y', message: 'l' },
      ]),
      false,
    );
    assert.equal(hasHighFindings([{ severity: 'high', code: 'x', message: 'h' }]), true);
  });
});
