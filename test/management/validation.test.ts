import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DIALECTS, skipFor, startTestRelay } from '../harness.ts';
import { assertProblem, connectionBody, createConnection, rawApi, snapshot } from './helpers.ts';

/** SPEC §12: every route validated by schema; bad input gets a clear problem+json error and changes nothing. */

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const relay = await startTestRelay(dialect, { RELAY_MAX_REQUEST_BODY_BYTES: '4096' });
    await createConnection(relay, { id: 'conn_hubspot' });
    const auth = { authorization: `Bearer ${relay.adminToken}` };
    const json = { ...auth, 'content-type': 'application/json' };
    const baseline = await snapshot(relay);

    const fieldPaths = (body: { errors?: Array<{ path: string; message: string }> }) =>
      (body.errors ?? []).map((e) => e.path);

    it('an unknown body field is 400 validation_failed naming the field', async () => {
      const res = await relay.api('POST', '/api/v1/connections', connectionBody({ colour: 'blue' }));
      assertProblem(res, 400, 'validation_failed');
      assert.ok(Array.isArray(res.body.errors));
      assert.ok(
        fieldPaths(res.body).some((p) => p.endsWith('colour')),
        JSON.stringify(res.body.errors),
      );
      for (const e of res.body.errors) {
        assert.equal(typeof e.path, 'string');
        assert.equal(typeof e.message, 'string');
      }
    });

    it('an unknown nested field is named by its path', async () => {
      const res = await relay.api(
        'POST',
        '/api/v1/connections',
        connectionBody({ auth: { type: 'bearer', secret: 'abcdefghijkl', sneaky: 1 } }),
      );
      assertProblem(res, 400, 'validation_failed');
      assert.ok(
        fieldPaths(res.body).some((p) => /auth\/sneaky$/.test(p)),
        JSON.stringify(res.body.errors),
      );
    });

    const wrongTypes: ReadonlyArray<readonly [string, string, string, unknown, string]> = [
      ['a number for a name', 'POST', '/api/v1/connections', connectionBody({ name: 7 }), 'name'],
      ['a string for options', 'POST', '/api/v1/connections', connectionBody({ options: 'yes' }), 'options'],
      [
        'a string for a boolean',
        'POST',
        '/api/v1/connections',
        connectionBody({ options: { log_query_strings: 'true' } }),
        'log_query_strings',
      ],
      [
        'an unknown auth type',
        'POST',
        '/api/v1/connections',
        connectionBody({ auth: { type: 'magic', secret: 'abcdefghi' } }),
        'type',
      ],
      ['a missing name', 'POST', '/api/v1/recipients', { kind: 'agent' }, 'name'],
      [
        'a string for ttl_seconds',
        'POST',
        '/api/v1/credentials',
        { name: 'x', grants: [], ttl_seconds: '60' },
        'ttl_seconds',
      ],
      ['an array body', 'POST', '/api/v1/recipients', [{ name: 'x', kind: 'agent' }], ''],
      ['null', 'POST', '/api/v1/recipients', null, ''],
      ['an empty patch', 'PATCH', '/api/v1/connections/conn_hubspot', {}, ''],
      [
        'an unknown workspace setting',
        'PATCH',
        '/api/v1/workspace',
        { settings: { colour: 'red' } },
        'colour',
      ],
    ];
    for (const [label, method, path, body, field] of wrongTypes) {
      it(`${label}: 400 validation_failed`, async () => {
        const res = await relay.api(method, path, body === null ? 'null' : body);
        assertProblem(res, 400, 'validation_failed');
        if (field !== '')
          assert.ok(
            fieldPaths(res.body).some((p) => p.includes(field)),
            JSON.stringify(res.body.errors),
          );
      });
    }

    for (const [label, query] of [
      ['an unknown query parameter', '?colour=blue'],
      ['a limit of 0', '?limit=0'],
      ['a limit above the maximum', '?limit=100000'],
      ['a limit that is not a number', '?limit=ten'],
      ['a cursor that is not one of ours', '?cursor=garbage'],
    ] as const) {
      it(`${label} on a list: 400 validation_failed`, async () => {
        assertProblem(await relay.api('GET', `/api/v1/connections${query}`), 400, 'validation_failed');
      });
    }

    for (const body of ['{', '{"name": "x",}', "{'name': 'x'}", 'nul', '']) {
      it(`invalid JSON ${JSON.stringify(body)}: 400 invalid_json`, async () => {
        assertProblem(await rawApi(relay, 'POST', '/api/v1/recipients', json, body), 400, 'invalid_json');
      });
    }

    for (const contentType of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/xml',
      'multipart/form-data; boundary=x',
    ]) {
      it(`Content-Type ${contentType}: 415 unsupported_media_type`, async () => {
        const res = await rawApi(
          relay,
          'POST',
          '/api/v1/recipients',
          { ...auth, 'content-type': contentType },
          'name=x&kind=agent',
        );
        assertProblem(res, 415, 'unsupported_media_type');
      });
    }

    it('a body larger than RELAY_MAX_REQUEST_BODY_BYTES: 413 payload_too_large', async () => {
      const res = await relay.api('POST', '/api/v1/recipients', { name: 'x'.repeat(5000), kind: 'agent' });
      assertProblem(res, 413, 'payload_too_large');
    });

    it('an unknown route: 404 not_found as problem+json', async () => {
      assertProblem(await relay.api('GET', '/api/v1/nothing-here'), 404, 'not_found');
      assertProblem(await relay.api('DELETE', '/api/v1/recipients/rcp_x'), 404, 'not_found');
    });

    it('request ids differ per request and are echoed in x-request-id', async () => {
      const a = await relay.api('GET', '/api/v1/nothing-here');
      const b = await relay.api('GET', '/api/v1/nothing-here');
      assert.notEqual(a.body.request_id, b.body.request_id);
      const ok = await relay.api('GET', '/api/v1/connections');
      assert.match(ok.headers.get('x-request-id') ?? '', /^req_/);
    });

    it('none of the bad input above changed anything (lists and admin audit unchanged)', async () => {
      assert.deepEqual(await snapshot(relay), baseline);
    });
  });
}
