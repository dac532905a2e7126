import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { AuditRecord } from '../../src/core/audit.ts';
import { DIALECTS, skipFor } from '../harness.ts';
import { startFakeUpstream } from './fake-upstream.ts';
import { fullGrant, startProxyFixture, waitForAudit } from './proxy-helpers.ts';
import { RawConnection, type WireResponse } from './raw-connection.ts';

/**
 * The proxy's HTTP/1.1 connections (planes/proxy/http1): keep-alive and
 * pipelining, a client's FIN, request bodies in both framings, 100-continue, early refusals
 * that keep or end the connection safely, and the protocol errors and timeouts,
 * each answered as problem+json with Relay-Decision and audited.
 */

function assertRelayDecision(res: WireResponse, status: number, code: string): void {
  assert.equal(res.status, status, res.text);
  assert.equal(res.headers['relay-decision'], code);
  assert.match(res.headers['content-type'] ?? '', /^application\/problem\+json/);
  assert.equal(JSON.parse(res.text).code, code);
}

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const upstream = await startFakeUpstream();
    const fx = await startProxyFixture(dialect, upstream, {
      RELAY_PROXY_HEADERS_TIMEOUT_MS: '1000',
      RELAY_PROXY_KEEP_ALIVE_TIMEOUT_MS: '1500',
      RELAY_PROXY_MAX_HEADER_BYTES: '4096',
    });
    await fx.connection({
      id: 'conn_wire',
      name: 'wire',
      base_url: upstream.url,
      auth: { type: 'bearer', secret: 'k-wire' },
    });
    const { id: credentialId, token } = await fx.credential({
      grants: [{ ...fullGrant('conn_wire'), allowed_paths: ['/v1/**'] }],
    });
    const auth = `Authorization: Bearer ${token}\r\n`;
    const get = (path: string, extra = '') =>
      `GET ${path} HTTP/1.1\r\nHost: relay.test\r\n${auth}${extra}\r\n`;
    const open = () => RawConnection.open(fx.relay.proxyUrl);
    const unattributed = async (requestId: string): Promise<AuditRecord> => {
      const deadline = Date.now() + 5000;
      for (;;) {
        const page = await fx.relay.running.relay.store.audit.list('', {}, { limit: 1000 });
        const found = page.data.find((r) => r.requestId === requestId);
        if (found !== undefined) return found;
        assert.ok(Date.now() < deadline, `no audit record for ${requestId}`);
        await delay(20);
      }
    };

    describe('keep-alive and pipelining', () => {
      it('answers several requests on one connection, announcing keep-alive and its timeout', async () => {
        const conn = await open();
        for (let i = 0; i < 3; i++) {
          conn.write(get(`/conn_wire/v1/items/${i}`));
          const res = await conn.response();
          assert.equal(res.status, 200, res.text);
          assert.equal(res.headers.connection, 'keep-alive');
          assert.equal(res.headers['keep-alive'], 'timeout=1');
          assert.equal(JSON.parse(res.text).url, `/v1/items/${i}`);
        }
        assert.equal(conn.isClosed, false);
        conn.close();
      });

      it('pipelined requests are answered in order, a refusal among them included', async () => {
        const conn = await open();
        conn.write(get('/conn_wire/v1/a') + get('/conn_wire/other') + get('/conn_wire/v1/b'));
        const first = await conn.response();
        const second = await conn.response();
        const third = await conn.response();
        assert.equal(JSON.parse(first.text).url, '/v1/a');
        assertRelayDecision(second, 403, 'path_not_allowed');
        assert.equal(JSON.parse(third.text).url, '/v1/b');
        conn.close();
      });

      it('Connection: close is honoured: the answer says so and the connection ends', async () => {
        const conn = await open();
        conn.write(get('/conn_wire/v1/a', 'Connection: close\r\n'));
        const res = await conn.response();
        assert.equal(res.status, 200);
        assert.equal(res.headers.connection, 'close');
        await conn.closed();
      });

      it('an HTTP/1.0 request without keep-alive gets its answer, then the connection ends', async () => {
        const conn = await open();
        conn.write(`GET /conn_wire/v1/old HTTP/1.0\r\n${auth}\r\n`);
        const res = await conn.response();
        assert.equal(res.status, 200, res.text);
        assert.equal(res.headers.connection, 'close');
        await conn.closed();
      });

      it("a client's FIN abandons its request in progress, as node:http does: the upstream request is cancelled", {
        timeout: 10_000,
      }, async () => {
        let arrived: () => void = () => {};
        let upstreamClosed: () => void = () => {};
        const reached = new Promise<void>((resolve) => {
          arrived = resolve;
        });
        const cancelled = new Promise<void>((resolve) => {
          upstreamClosed = resolve;
        });
        upstream.route('/v1/hold', (_req, res) => {
          res.on('close', () => upstreamClosed());
          arrived();
        });
        const conn = await open();
        conn.write(get('/conn_wire/v1/hold'));
        await reached;
        conn.socket.end();
        await cancelled;
        await conn.closed();
        assert.equal(conn.pending, 0, 'no response after the FIN');
        await waitForAudit(fx.relay.api, { credential_id: credentialId }, (events) =>
          events.some((e) => e.path === '/v1/hold' && e.reason === 'client_closed'),
        );
      });

      it('an idle connection is closed after RELAY_PROXY_KEEP_ALIVE_TIMEOUT_MS', async () => {
        const conn = await open();
        conn.write(get('/conn_wire/v1/a'));
        await conn.response();
        const started = Date.now();
        await conn.closed();
        assert.ok(Date.now() - started >= 1000, 'closed before its keep-alive timeout');
      });
    });

    describe('request bodies', () => {
      it('a chunked body is decoded and forwarded whole', async () => {
        const conn = await open();
        conn.write(
          `POST /conn_wire/v1/upload HTTP/1.1\r\nHost: relay.test\r\n${auth}Transfer-Encoding: chunked\r\n\r\n` +
            '5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n',
        );
        const res = await conn.response();
        assert.equal(res.status, 200, res.text);
        assert.equal(JSON.parse(res.text).bytes, 12);
        const seen = upstream.requestsTo('/v1/upload').at(-1);
        assert.equal(seen?.body.toString(), 'hello, world');
        assert.equal(seen?.headers['x-trailer'], undefined, 'trailers are not forwarded');
        conn.close();
      });

      it('Expect: 100-continue: 100 only once the request is allowed, then the body is forwarded', async () => {
        const conn = await open();
        conn.write(
          `POST /conn_wire/v1/expect HTTP/1.1\r\nHost: relay.test\r\n${auth}Content-Length: 4\r\nExpect: 100-continue\r\n\r\n`,
        );
        const interim = await conn.response();
        assert.equal(interim.status, 100);
        conn.write('ping');
        const res = await conn.response();
        assert.equal(res.status, 200, res.text);
        assert.equal(upstream.requestsTo('/v1/expect').at(-1)?.body.toString(), 'ping');
        conn.close();
      });

      it('Expect: 100-continue refused: no 100, and the connection ends (the body may never come)', async () => {
        const conn = await open();
        conn.write(
          'POST /conn_wire/v1/expect HTTP/1.1\r\nHost: relay.test\r\nAuthorization: Bearer nope\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n',
        );
        const res = await conn.response();
        assertRelayDecision(res, 401, 'unauthenticated');
        assert.equal(res.headers.connection, 'close');
        await conn.closed();
      });

      it('a refusal whose small body is all here keeps the connection', async () => {
        const conn = await open();
        conn.write(
          `POST /conn_wire/outside HTTP/1.1\r\nHost: relay.test\r\n${auth}Content-Length: 5\r\n\r\nhello${get('/conn_wire/v1/after')}`,
        );
        assertRelayDecision(await conn.response(), 403, 'path_not_allowed');
        const next = await conn.response();
        assert.equal(JSON.parse(next.text).url, '/v1/after');
        conn.close();
      });

      it('a refusal whose large body has not come ends the connection', async () => {
        const conn = await open();
        conn.write(
          `POST /conn_wire/outside HTTP/1.1\r\nHost: relay.test\r\n${auth}Content-Length: 10000000\r\n\r\n`,
        );
        const res = await conn.response();
        assertRelayDecision(res, 403, 'path_not_allowed');
        assert.equal(res.headers.connection, 'close');
        await conn.closed();
      });

      it('a malformed chunked body is refused with 400 malformed_request and ends the connection', async () => {
        const conn = await open();
        conn.write(
          `POST /conn_wire/v1/upload HTTP/1.1\r\nHost: relay.test\r\n${auth}Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX`,
        );
        const res = await conn.response();
        assertRelayDecision(res, 400, 'malformed_request');
        await conn.closed();
      });
    });

    describe('protocol refusals are problem+json, close the connection, and are audited', () => {
      it('a malformed head: 400 malformed_request', async () => {
        const conn = await open();
        conn.write(`GET /conn_wire/v1/a HTTP/1.1\r\nHost: relay.test\r\n${auth}X-Bad: a\x01b\r\n\r\n`);
        const res = await conn.response();
        assertRelayDecision(res, 400, 'malformed_request');
        assert.equal(res.headers.connection, 'close');
        await conn.closed();
        // No credential was read: the record is unattributed (workspace '').
        const requestId = JSON.parse(res.text).request_id;
        const record = await unattributed(requestId);
        assert.equal(record.decision, 'blocked');
        assert.equal(record.reason, 'malformed_request');
        assert.equal(record.status, 400);
        assert.equal(record.method, 'GET');
        assert.equal(record.path, '/conn_wire/v1/a');
      });

      it('a head over RELAY_PROXY_MAX_HEADER_BYTES: 431 headers_too_large', async () => {
        const conn = await open();
        conn.write(get('/conn_wire/v1/a', `X-Long: ${'a'.repeat(5000)}\r\n`));
        assertRelayDecision(await conn.response(), 431, 'headers_too_large');
        await conn.closed();
      });

      it('a head not complete within RELAY_PROXY_HEADERS_TIMEOUT_MS: 408 request_timeout', async () => {
        const conn = await open();
        conn.write('GET /conn_wire/v1/slow HTTP/1.1\r\nHost: relay.test\r\n');
        const res = await conn.response(5000);
        assertRelayDecision(res, 408, 'request_timeout');
        await conn.closed();
      });

      it('a connection that sends nothing is closed after the same timeout, without an answer', async () => {
        const conn = await open();
        await conn.closed();
        assert.equal(conn.pending, 0);
      });

      it('a HEAD request gets the headers of the answer and no body', async () => {
        const conn = await open();
        conn.write(
          `HEAD /conn_wire/v1/h HTTP/1.1\r\nHost: relay.test\r\n${auth}\r\n${get('/conn_wire/v1/after-head')}`,
        );
        const head = await conn.response();
        assert.equal(head.status, 200);
        assert.equal(head.body.length, 0);
        // The next response starts right after the head: no body bytes were sent for HEAD.
        const next = await conn.response();
        assert.equal(JSON.parse(next.text).url, '/v1/after-head');
        conn.close();
      });
    });

    it('every request on these connections was audited under its credential', async () => {
      const events = await waitForAudit(fx.relay.api, { credential_id: credentialId }, (e) => e.length > 0);
      assert.ok(events.every((e) => e.credential_id === credentialId));
    });
  });
}
