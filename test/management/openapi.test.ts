import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createLogger } from '../../src/logger.ts';
import { buildManagementApi } from '../../src/planes/management/server.ts';
import { callApi, DIALECTS, skipFor, startTestRelay } from '../harness.ts';
import { assertProblem } from './helpers.ts';

/** SPEC §12: an OpenAPI 3.1 document at /api/v1/openapi.json, generated from the schemas the routes validate with. */

interface Operation {
  parameters?: Array<{ name: string; in: string; required?: boolean }>;
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, unknown>;
  security?: unknown[];
  'x-relay-access'?: string;
}
type Paths = Record<string, Record<string, Operation>>;

/** Routes issue 2 promises (SPEC §13), as `METHOD path` in OpenAPI form. */
const REQUIRED = [
  'POST /api/v1/connections',
  'GET /api/v1/connections',
  'GET /api/v1/connections/{id}',
  'PATCH /api/v1/connections/{id}',
  'DELETE /api/v1/connections/{id}',
  'PUT /api/v1/connections/{id}/secret',
  'POST /api/v1/recipients',
  'GET /api/v1/recipients',
  'POST /api/v1/recipients/{id}/revoke',
  'POST /api/v1/credentials',
  'GET /api/v1/credentials',
  'GET /api/v1/credentials/{id}',
  'POST /api/v1/credentials/{id}/revoke',
  'POST /api/v1/delegated-credentials',
  'POST /api/v1/tokens',
  'GET /api/v1/tokens',
  'POST /api/v1/tokens/{id}/revoke',
  'GET /api/v1/workspace',
  'PATCH /api/v1/workspace',
  'GET /api/v1/openapi.json',
];

/**
 * The routes Fastify actually registered, read from `printRoutes()`'s tree
 * (one line per node: indentation gives the depth, `(GET, POST)` the methods).
 */
function registeredRoutes(tree: string): string[] {
  const stack: string[] = [];
  const out: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^([│ ]*)[├└]── (\S+)(?: \(([^)]*)\))?$/.exec(line);
    if (!match) continue;
    const depth = (match[1] ?? '').length / 4;
    stack.length = depth;
    stack.push(match[2] ?? '');
    const url = stack.join('').replace(/:([A-Za-z_]+)/g, '{$1}');
    for (const method of (match[3] ?? '').split(',').map((m) => m.trim())) {
      if (method !== '' && method !== 'HEAD') out.push(`${method} ${url}`);
    }
  }
  return out;
}

const isPublic = (op: Operation) =>
  op['x-relay-access'] === 'public' || (Array.isArray(op.security) && op.security.length === 0);

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    // Every documented route is called without a token; the brute-force throttle has its own suite.
    const relay = await startTestRelay(dialect, { RELAY_BRUTE_FORCE_MAX_FAILURES: '100000' });
    const res = await callApi(relay.apiUrl, 'GET', '/api/v1/openapi.json', undefined);
    const doc = res.body as {
      openapi: string;
      info: { title: string; version: string };
      paths: Paths;
      components: Record<string, unknown>;
    };
    const operations = Object.entries(doc?.paths ?? {}).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), path, op })),
    );

    it('is served without authentication as OpenAPI 3.1.0', () => {
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(doc.openapi, '3.1.0');
      assert.equal(typeof doc.info.title, 'string');
      assert.equal(typeof doc.info.version, 'string');
      assert.ok(operations.length >= REQUIRED.length);
    });

    it('documents every route of the management API contract', () => {
      const documented = new Set(operations.map((o) => `${o.method} ${o.path}`));
      const missing = REQUIRED.filter((r) => !documented.has(r));
      assert.deepEqual(missing, []);
    });

    it('documents exactly the /api/v1 routes the server registers', async () => {
      const app = buildManagementApi({
        services: relay.running.relay.services,
        clock: relay.running.relay.clock,
        logger: createLogger('silent'),
        proxyBaseUrl: relay.proxyUrl,
        publicApiUrl: 'http://localhost:8081',
        bodyLimit: relay.config.maxRequestBodyBytes,
        version: 'test',
      });
      after(() => app.close());
      await app.ready();
      const registered = registeredRoutes(app.printRoutes({ commonPrefix: false }))
        .filter((r) => r.split(' ')[1]?.startsWith('/api/v1/'))
        .sort();
      assert.ok(registered.length >= REQUIRED.length, `could not read the route tree:\n${app.printRoutes()}`);
      const documented = operations.map((o) => `${o.method} ${o.path}`).sort();
      assert.deepEqual(documented, registered);
    });

    it('the server answers every documented route: the admin never gets "no route"', async () => {
      for (const { method, path } of operations) {
        const concrete = path.replace(/\{[^}]+\}/g, 'x_doesnotexist');
        const answer = await relay.api(method, concrete);
        const noRoute = answer.status === 404 && /^no route/.test(answer.body?.detail ?? '');
        assert.ok(!noRoute, `${method} ${path}: ${JSON.stringify(answer.body)}`);
        assert.notEqual(answer.status, 405, `${method} ${path}`);
      }
    });

    it('every documented route exists: without a token it answers 401, never 404', async () => {
      for (const { method, path, op } of operations) {
        if (isPublic(op)) continue;
        const concrete = path.replace(/\{[^}]+\}/g, 'x_doesnotexist');
        const answer = await callApi(relay.apiUrl, method, concrete, undefined);
        assert.equal(
          answer.status,
          401,
          `${method} ${path} answered ${answer.status} ${JSON.stringify(answer.body)}`,
        );
        assertProblem(answer, 401, 'unauthenticated');
      }
    });

    it('every documented GET without parameters answers 200 to the admin', async () => {
      for (const { method, path } of operations) {
        if (method !== 'GET' || path.includes('{')) continue;
        const answer = await relay.api('GET', path);
        assert.equal(answer.status, 200, `${path}: ${JSON.stringify(answer.body)}`);
      }
    });

    it('each path parameter is declared, and every operation documents its problem+json errors', () => {
      for (const { method, path, op } of operations) {
        for (const [, name] of path.matchAll(/\{([^}]+)\}/g)) {
          assert.ok(
            op.parameters?.some((p) => p.in === 'path' && p.name === name && p.required === true),
            `${method} ${path}: path parameter ${name} undeclared`,
          );
        }
        assert.ok(op.responses.default, `${method} ${path}: no default (error) response`);
        assert.ok(JSON.stringify(op.responses.default).includes('application/problem+json'));
      }
    });

    it('every request body is a closed JSON object schema (unknown fields refused)', () => {
      for (const { method, path, op } of operations) {
        if (!['POST', 'PUT', 'PATCH'].includes(method) || op.requestBody === undefined) continue;
        const schema = op.requestBody.content['application/json']?.schema;
        assert.ok(schema, `${method} ${path}: no application/json body schema`);
        assert.equal(schema.type, 'object', `${method} ${path}`);
        assert.equal(schema.additionalProperties, false, `${method} ${path} accepts unknown fields`);
      }
    });

    it('every mutation with a JSON body documents it', () => {
      for (const r of [
        'POST /api/v1/connections',
        'PATCH /api/v1/connections/{id}',
        'PUT /api/v1/connections/{id}/secret',
        'POST /api/v1/recipients',
        'POST /api/v1/credentials',
        'POST /api/v1/tokens',
      ]) {
        const [method = '', path = ''] = r.split(' ');
        assert.ok(doc.paths[path]?.[method.toLowerCase()]?.requestBody, `${r} has no requestBody`);
      }
    });

    it('the document names no secret: no example key, no admin token', () => {
      const text = JSON.stringify(doc);
      assert.ok(!text.includes(relay.adminToken));
      assert.ok(!/rk_(proxy|mgmt)_[0-9A-Za-z]{38}/.test(text));
    });
  });
}
