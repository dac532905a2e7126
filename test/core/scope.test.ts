import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ErrorCode } from '../../src/core/errors.ts';
import type { Grant } from '../../src/core/model.ts';
import { canonicalizeTarget } from '../../src/core/request-target.ts';
import { compileGrant, evaluateScope, queryParamBaseName } from '../../src/core/scope.ts';

const GRANTS: readonly Grant[] = [
  {
    connection_id: 'conn_hubspot',
    allowed_methods: ['GET', 'post'],
    allowed_paths: ['/crm/v3/objects/**', '/crm/v3/owners'],
    deny_query_params: ['hapikey', 'Archived', 'legacy[]'],
  },
  {
    connection_id: 'conn_stripe',
    allowed_methods: ['GET', 'HEAD'],
    allowed_paths: ['/v1/customers/*'],
    deny_query_params: [],
  },
  { connection_id: 'conn_empty', allowed_methods: [], allowed_paths: [], deny_query_params: [] },
  { connection_id: 'conn_nopaths', allowed_methods: ['GET'], allowed_paths: [], deny_query_params: [] },
  {
    connection_id: 'conn_badglob',
    allowed_methods: ['GET'],
    allowed_paths: ['/a*b', 'a/b'],
    deny_query_params: [],
  },
];

interface Case {
  readonly name: string;
  readonly method?: string;
  readonly target: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** `ok` or the refusal's error code. */
  readonly expected: 'ok' | ErrorCode;
}

const OBJECTS = '/conn_hubspot/crm/v3/objects/contacts';

const CASES: readonly Case[] = [
  { name: 'allowed GET', target: `${OBJECTS}?limit=10`, expected: 'ok' },
  { name: 'allowed POST (grant lists it in lower case)', method: 'POST', target: OBJECTS, expected: 'ok' },
  { name: 'method compared upper-cased', method: 'get', target: OBJECTS, expected: 'ok' },
  { name: '** matches zero segments', target: '/conn_hubspot/crm/v3/objects', expected: 'ok' },
  { name: 'exact path', target: '/conn_hubspot/crm/v3/owners', expected: 'ok' },
  { name: 'exact path with trailing slash', target: '/conn_hubspot/crm/v3/owners/', expected: 'ok' },
  { name: 'HEAD when listed', method: 'HEAD', target: '/conn_stripe/v1/customers/cus_1', expected: 'ok' },
  {
    name: 'no denied params: any query',
    target: '/conn_stripe/v1/customers/cus_1?hapikey=1',
    expected: 'ok',
  },

  // connection
  {
    name: 'connection not granted',
    target: '/conn_other/crm/v3/objects',
    expected: 'connection_not_granted',
  },
  {
    name: 'connection check comes first',
    method: 'DELETE',
    target: '/conn_other/x',
    expected: 'connection_not_granted',
  },

  // method override
  ...['x-http-method-override', 'x-http-method', 'x-method-override'].map(
    (header): Case => ({
      name: `header ${header}`,
      target: OBJECTS,
      headers: { [header]: 'DELETE' },
      expected: 'method_override_refused',
    }),
  ),
  {
    name: 'override header even if empty',
    target: OBJECTS,
    headers: { 'x-http-method': '' },
    expected: 'method_override_refused',
  },
  {
    name: 'override checked before method',
    method: 'DELETE',
    target: OBJECTS,
    headers: { 'x-http-method-override': 'GET' },
    expected: 'method_override_refused',
  },
  {
    name: '_method query parameter',
    method: 'POST',
    target: `${OBJECTS}?_method=DELETE`,
    expected: 'method_override_refused',
  },
  {
    name: '_METHOD, any case',
    method: 'POST',
    target: `${OBJECTS}?_METHOD=delete`,
    expected: 'method_override_refused',
  },
  {
    name: '_method behind ";"',
    method: 'POST',
    target: `${OBJECTS}?a=1;_method=DELETE`,
    expected: 'method_override_refused',
  },
  {
    name: 'unrelated header is fine',
    target: OBJECTS,
    headers: { 'x-http-method-x': 'DELETE' },
    expected: 'ok',
  },

  // method
  { name: 'method not listed', method: 'DELETE', target: OBJECTS, expected: 'method_not_allowed' },
  { name: 'HEAD is not implied by GET', method: 'HEAD', target: OBJECTS, expected: 'method_not_allowed' },
  { name: 'OPTIONS not listed', method: 'OPTIONS', target: OBJECTS, expected: 'method_not_allowed' },
  { name: 'empty allowed_methods allow nothing', target: '/conn_empty/', expected: 'method_not_allowed' },
  {
    name: 'method checked before path',
    method: 'DELETE',
    target: '/conn_hubspot/x',
    expected: 'method_not_allowed',
  },

  // path
  { name: 'path outside the globs', target: '/conn_hubspot/crm/v4/objects', expected: 'path_not_allowed' },
  {
    name: 'exact glob does not extend',
    target: '/conn_hubspot/crm/v3/owners/1',
    expected: 'path_not_allowed',
  },
  { name: '* needs a segment', target: '/conn_stripe/v1/customers/', expected: 'path_not_allowed' },
  { name: '* is one segment', target: '/conn_stripe/v1/customers/a/b', expected: 'path_not_allowed' },
  { name: 'empty allowed_paths allow nothing', target: '/conn_nopaths/', expected: 'path_not_allowed' },
  { name: 'invalid stored globs match nothing', target: '/conn_badglob/a*b', expected: 'path_not_allowed' },
  { name: 'path checked before query', target: '/conn_hubspot/x?hapikey=1', expected: 'path_not_allowed' },

  // denied query parameters
  ...[
    'hapikey=1',
    'HAPIKEY=1',
    'HapiKey=1',
    'hapikey',
    'hapikey=',
    'hapikey[]=1',
    'hapikey[x]=1',
    'hapikey[x][y]=1',
    'hapikey[=1',
    '[hapikey]=1',
    '%68apikey=1',
    'hapi%4Bey=1',
    '+hapikey=1',
    'hapikey%20=1',
    'limit=1&hapikey=2',
    'limit=1;hapikey=2',
    'limit;hapikey=2',
    'archived=true',
    'ARCHIVED[]=true',
    'legacy=1',
  ].map(
    (query): Case => ({
      name: `denied: ?${query}`,
      target: `${OBJECTS}?${query}`,
      expected: 'query_param_denied',
    }),
  ),
  ...['hapikey_x=1', 'xhapikey=1', 'q=hapikey', 'user[hapikey]=1', 'limit=10&after=2'].map(
    (query): Case => ({ name: `not denied: ?${query}`, target: `${OBJECTS}?${query}`, expected: 'ok' }),
  ),
];

function evaluate(c: Case) {
  const target = canonicalizeTarget(c.target);
  assert.ok(target.ok, target.ok ? '' : target.error.detail);
  const headers = c.headers ?? {};
  return evaluateScope({
    grants: GRANTS,
    connectionId: target.value.connectionId,
    method: c.method ?? 'GET',
    target: target.value,
    headers: (name) => headers[name],
  });
}

describe('evaluateScope', () => {
  for (const c of CASES) {
    it(`${c.name} → ${c.expected}`, () => {
      const result = evaluate(c);
      if (c.expected === 'ok') {
        assert.ok(result.ok, result.ok ? '' : `${result.error.code}: ${result.error.detail}`);
      } else {
        assert.equal(result.ok ? 'ok' : result.error.code, c.expected);
      }
    });
  }

  it('returns the grant that matched', () => {
    const result = evaluate({ name: '', target: '/conn_stripe/v1/customers/c', expected: 'ok' });
    assert.ok(result.ok);
    assert.equal(result.value.grant, GRANTS[1]);
  });

  it('fails closed when the target names another connection than the one evaluated', () => {
    const target = canonicalizeTarget('/conn_stripe/v1/customers/c');
    assert.ok(target.ok);
    const result = evaluateScope({
      grants: GRANTS,
      connectionId: 'conn_hubspot',
      method: 'GET',
      target: target.value,
      headers: () => undefined,
    });
    assert.equal(result.ok ? 'ok' : result.error.code, 'connection_not_granted');
  });

  it('denies everything with no grants', () => {
    const target = canonicalizeTarget('/conn_stripe/v1/customers/c');
    assert.ok(target.ok);
    const result = evaluateScope({
      grants: [],
      connectionId: 'conn_stripe',
      method: 'GET',
      target: target.value,
      headers: () => undefined,
    });
    assert.equal(result.ok ? 'ok' : result.error.code, 'connection_not_granted');
  });
});

describe('compileGrant', () => {
  it('compiles each grant object once', () => {
    const grant = GRANTS[0];
    assert.ok(grant !== undefined);
    assert.equal(compileGrant(grant), compileGrant(grant));
    assert.notEqual(compileGrant(grant), compileGrant({ ...grant }));
  });

  it('normalizes methods and denied names, and drops invalid globs', () => {
    const compiled = compileGrant({
      connection_id: 'conn_x',
      allowed_methods: ['get', 'Post'],
      allowed_paths: ['/ok/*', '/bad*', 'relative'],
      deny_query_params: ['Api_Key', 'token[]', '[]'],
    });
    assert.deepEqual([...compiled.methods], ['GET', 'POST']);
    assert.deepEqual(
      compiled.paths.map((p) => p.source),
      ['/ok/*'],
    );
    assert.deepEqual([...compiled.deniedQueryParams], ['api_key', 'token']);
  });
});

describe('queryParamBaseName', () => {
  const table: ReadonlyArray<readonly [string, string]> = [
    ['api_key', 'api_key'],
    ['API_Key', 'api_key'],
    ['api_key[]', 'api_key'],
    ['api_key[a]', 'api_key'],
    ['api_key[a][b]', 'api_key'],
    ['api_key[', 'api_key'],
    ['[api_key]', 'api_key'],
    [' api_key ', 'api_key'],
    ['[]', ''],
    ['', ''],
  ];
  for (const [name, expected] of table) {
    it(`${JSON.stringify(name)} → ${JSON.stringify(expected)}`, () => {
      assert.equal(queryParamBaseName(name), expected);
    });
  }
});
