import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DIALECTS, onCleanup, skipFor, startTestRelay } from '../harness.ts';
import { closedPort, startFakeUpstream } from './fake-upstream.ts';
import {
  type AuditEvent,
  assertDecision,
  assertPassedThrough,
  fullGrant,
  send,
  startProxyFixture,
  waitForAudit,
} from './proxy-helpers.ts';

/**
 * SPEC §4 step 7: bodies stream both ways (server-sent events chunk by chunk,
 * a 100 MB download in flat memory), upstream failures become 502/504 problem
 * responses, a client abort cancels the upstream request, and the upstream's own
 * answers (401/403/404 included) reach the caller untouched.
 */

/** Rejects if `promise` has not settled within `ms`, so a broken stream fails instead of hanging. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A promise with its resolver, for handshakes between the fake upstream and the client. */
function signal<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const MiB = 1024 * 1024;

/**
 * A full collection on demand, for memory measurements (the test runner gives no --expose-gc).
 * A plain `gc()` frees dead ArrayBuffers (every chunk a socket read) on a background thread
 * after it returns, so right after it `arrayBuffers` still counts up to the last ~13 MiB of
 * streamed garbage, more when that thread waits for a busy CPU. The last-resort flavour
 * frees them before returning: what `memoryUsage()` shows next is what is still held.
 */
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (options: {
  type: 'major';
  execution: 'sync';
  flavor: 'last-resort';
}) => void;
const collectGarbage = (): void => gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });

/**
 * An upstream download of `total` bytes, written lazily one 64 KiB piece at a time and
 * honouring backpressure; `sent` counts what the upstream has handed to its socket so far.
 */
function download(res: ServerResponse, total: number): { sent: number } {
  const piece = Buffer.alloc(64 * 1024, 0x61);
  const progress = { sent: 0 };
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total });
  const pump = (): void => {
    while (progress.sent < total) {
      progress.sent += piece.length;
      if (!res.write(piece)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
  return progress;
}

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const upstream = await startFakeUpstream();
    const fx = await startProxyFixture(dialect, upstream);
    await fx.connection({
      id: 'conn_fwd',
      name: 'fwd',
      base_url: upstream.url,
      auth: { type: 'bearer', secret: 'k-fwd' },
    });
    await fx.connection({
      id: 'conn_dead',
      name: 'dead',
      base_url: `http://127.0.0.1:${await closedPort()}`,
      auth: { type: 'bearer', secret: 'k-dead' },
    });
    const { token, id: credentialId } = await fx.credential({
      grants: [fullGrant('conn_fwd'), fullGrant('conn_dead')],
    });
    const proxyPort = Number(new URL(fx.relay.proxyUrl).port);

    /** The audit record of the one request this suite sends to `path`, once it is written. */
    const auditOf = async (path: string): Promise<AuditEvent> => {
      const events = await waitForAudit(fx.relay.api, { credential_id: credentialId }, (all) =>
        all.some((e) => e.path === path),
      );
      return events.find((e) => e.path === path);
    };

    /** Starts a request through Relay and resolves with the response as soon as its head arrives. */
    const open = (method: string, path: string, onRequest?: (req: ReturnType<typeof request>) => void) =>
      new Promise<{ res: IncomingMessage; req: ReturnType<typeof request> }>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: proxyPort,
            method,
            path,
            agent: false,
            headers: { authorization: `Bearer ${token}` },
          },
          (res) => resolve({ res, req }),
        );
        req.on('error', reject);
        if (onRequest) onRequest(req);
        else req.end();
      });

    describe('request bodies', () => {
      it('a 5 MB POST body arrives intact (SHA-256 compared)', async () => {
        upstream.route('/v1/upload', (req, res) => {
          const hash = createHash('sha256');
          let bytes = 0;
          req.on('data', (chunk: Buffer) => {
            hash.update(chunk);
            bytes += chunk.length;
          });
          req.on('end', () => {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ sha256: hash.digest('hex'), bytes }));
          });
        });
        const body = randomBytes(5 * MiB);
        const res = await send(fx.relay.proxyUrl, {
          method: 'POST',
          path: '/conn_fwd/v1/upload',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
          body,
        });
        assertPassedThrough(res);
        assert.deepEqual(JSON.parse(res.text), {
          sha256: createHash('sha256').update(body).digest('hex'),
          bytes: body.length,
        });
      });

      it('the request body streams: the upstream reads the first chunk before the client sends the second', async () => {
        const firstArrived = signal();
        upstream.route('/v1/stream-up', (req, res) => {
          const chunks: Buffer[] = [];
          req.on('data', (chunk: Buffer) => {
            chunks.push(chunk);
            if (Buffer.concat(chunks).includes('first;')) firstArrived.resolve();
          });
          req.on('end', () => {
            res.writeHead(200, { 'content-type': 'text/plain' });
            res.end(Buffer.concat(chunks));
          });
        });
        const { res } = await open('POST', '/conn_fwd/v1/stream-up', (req) => {
          req.setHeader('transfer-encoding', 'chunked');
          req.write('first;');
          void within(firstArrived.promise, 5000, 'the first request chunk upstream').then(
            () => req.end('second;'),
            (error: Error) => req.destroy(error),
          );
        });
        const text = await new Promise<string>((resolve) => {
          let all = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            all += chunk;
          });
          res.on('end', () => resolve(all));
        });
        assert.equal(res.statusCode, 200);
        assert.equal(text, 'first;second;');
      });
    });

    describe('response bodies', () => {
      it('server-sent events arrive chunk by chunk', async () => {
        const firstSeenByClient = signal();
        let secondWritten = false;
        upstream.route('/v1/events', (_req, res) => {
          res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
          res.write('event: tick\ndata: one\n\n');
          // The next event is written only once the client has received the first:
          // a proxy that buffered the response would deadlock here (and time out below).
          void firstSeenByClient.promise.then(() => {
            secondWritten = true;
            res.end('event: tick\ndata: two\n\n');
          });
        });
        const { res } = await open('GET', '/conn_fwd/v1/events');
        assert.equal(res.statusCode, 200);
        assert.equal(res.headers['content-type'], 'text/event-stream');
        assert.equal(res.headers['relay-decision'], undefined);
        res.setEncoding('utf8');
        let received = '';
        let secondWrittenWhenFirstSeen: boolean | undefined;
        const done = new Promise<void>((resolve) => res.on('end', resolve));
        res.on('data', (chunk: string) => {
          received += chunk;
          if (secondWrittenWhenFirstSeen === undefined && received.includes('data: one\n\n')) {
            secondWrittenWhenFirstSeen = secondWritten;
            firstSeenByClient.resolve();
          }
        });
        await within(done, 5000, 'the event stream to end');
        assert.equal(
          secondWrittenWhenFirstSeen,
          false,
          'the first event reached the client before the second was sent',
        );
        assert.equal(received, 'event: tick\ndata: one\n\nevent: tick\ndata: two\n\n');
      });

      it('a 100 MB download streams in flat memory', async () => {
        const total = 100 * MiB;
        upstream.route('/v1/big', (_req, res) => void download(res, total));
        // Garbage from streamed chunks is legitimately freed only at the next GC (V8 lets
        // tens of MB of external memory pile up first), so the sampler collects before it
        // measures (see collectGarbage): what remains is what someone holds on to.
        collectGarbage();
        const start = process.memoryUsage();
        const baseline = { rss: start.rss, live: start.heapUsed + start.arrayBuffers };
        const peak = { ...baseline };
        const sampler = setInterval(() => {
          collectGarbage();
          const now = process.memoryUsage();
          peak.rss = Math.max(peak.rss, now.rss);
          peak.live = Math.max(peak.live, now.heapUsed + now.arrayBuffers);
        }, 100);
        try {
          const { res } = await open('GET', '/conn_fwd/v1/big');
          assert.equal(res.statusCode, 200);
          let received = 0;
          await within(
            new Promise<void>((resolve, reject) => {
              res.on('data', (chunk: Buffer) => {
                received += chunk.length; // counted, not kept
              });
              res.on('end', resolve);
              res.on('error', reject);
            }),
            60_000,
            'the 100 MB download',
          );
          assert.equal(received, total);
        } finally {
          clearInterval(sampler);
        }
        const rss = (peak.rss - baseline.rss) / MiB;
        const live = (peak.live - baseline.live) / MiB;
        assert.ok(rss < 60, `RSS grew by ${rss.toFixed(1)} MiB during a 100 MiB download`);
        assert.ok(live < 20, `live heap + buffers grew by ${live.toFixed(1)} MiB during a 100 MiB download`);
      });

      it('a client that stops reading stops the upstream: Relay holds back, it does not buffer', async () => {
        const total = 200 * MiB;
        let progress = { sent: 0 };
        upstream.route('/v1/held', (_req, res) => {
          progress = download(res, total);
        });
        const { res, req } = await open('GET', '/conn_fwd/v1/held');
        assert.equal(res.statusCode, 200);
        res.pause();
        // The upstream writes until every buffer on the way is full, then waits: no progress for 300 ms.
        let last = -1;
        while (progress.sent !== last) {
          last = progress.sent;
          await delay(300);
        }
        // What stalls is kernel socket buffers (about 8 MiB measured here); a Relay that kept
        // reading the upstream would hold all 200 MiB in memory instead.
        const sent = progress.sent / MiB;
        assert.ok(sent < 64, `the upstream sent ${sent.toFixed(1)} MiB to a client that read none`);
        req.destroy();
        const event = await auditOf('/v1/held');
        assert.equal(event.reason, 'client_closed');
        assert.ok(event.bytes_out < total);
      });
    });

    describe('upstream failures', () => {
      it('connection refused: 502 upstream_unreachable', async () => {
        const res = await fx.get('/conn_dead/v1/x', token);
        assertDecision(res, 502, 'upstream_unreachable');
      });

      describe('RELAY_UPSTREAM_TIMEOUT_MS=300', async () => {
        const slow = await startFakeUpstream();
        const fx2 = await startProxyFixture(dialect, slow, { RELAY_UPSTREAM_TIMEOUT_MS: '300' });
        await fx2.connection({
          id: 'conn_slow',
          name: 'slow',
          base_url: slow.url,
          auth: { type: 'bearer', secret: 'k-slow' },
        });
        const cred = await fx2.credential({ grants: [fullGrant('conn_slow')] });
        slow.route('/v1/hang', () => {
          // never answers; closed with the fake upstream after the suite
        });

        it('an upstream that never answers: 504 upstream_timeout', async () => {
          const started = Date.now();
          const res = await within(fx2.get('/conn_slow/v1/hang', cred.token), 10_000, 'the 504');
          assertDecision(res, 504, 'upstream_timeout');
          assert.ok(Date.now() - started >= 250, 'answered only after the timeout');
          assert.equal(slow.requestsTo('/v1/hang').length, 1);
        });
      });
    });

    describe('an upstream that dies mid-body', () => {
      for (const framing of ['content-length', 'chunked'] as const) {
        it(`${framing}: cuts the client off (never a clean end) and audits the bytes sent and why`, async () => {
          const own = await fx.credential({ grants: [fullGrant('conn_fwd')] });
          upstream.route(`/v1/dies-${framing}`, (_req, res) => {
            const length = framing === 'content-length' ? { 'content-length': 1000 } : {};
            res.writeHead(200, { 'content-type': 'application/octet-stream', ...length });
            res.write(Buffer.alloc(100, 0x62), () => setTimeout(() => res.socket?.destroy(), 50));
          });
          const req = request({
            host: '127.0.0.1',
            port: proxyPort,
            path: `/conn_fwd/v1/dies-${framing}`,
            agent: false,
            headers: { authorization: `Bearer ${own.token}` },
          });
          const ended = await within(
            new Promise<{ received: number; complete: boolean }>((resolve, reject) => {
              req.on('error', reject);
              req.on('response', (res) => {
                let received = 0;
                res.on('data', (chunk: Buffer) => {
                  received += chunk.length;
                });
                res.on('error', () => {}); // the reset is expected
                res.on('close', () => resolve({ received, complete: res.complete }));
              });
              req.end();
            }),
            5000,
            'the cut-off response',
          );
          assert.equal(ended.received, 100);
          assert.equal(ended.complete, false, 'the client must not take a cut-off body for a whole one');
          const [event] = await waitForAudit(fx.relay.api, { credential_id: own.id }, (e) => e.length === 1);
          assert.equal(event.status, 200);
          assert.equal(event.decision, 'allowed');
          assert.equal(event.reason, 'upstream_unreachable');
          assert.equal(event.bytes_out, 100);
        });
      }
    });

    describe('client abort', () => {
      it('mid-response: the upstream request is cancelled', async () => {
        const upstreamClosed = signal();
        upstream.route('/v1/drip', (_req, res) => {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('first chunk');
          res.on('close', () => upstreamClosed.resolve());
        });
        const { res, req } = await open('GET', '/conn_fwd/v1/drip');
        await within(
          new Promise<void>((resolve) => res.once('data', () => resolve())),
          5000,
          'the first chunk',
        );
        req.destroy();
        await within(upstreamClosed.promise, 5000, 'the upstream request to be closed');
        const event = await auditOf('/v1/drip');
        assert.equal(event.reason, 'client_closed');
        assert.equal(event.status, 200);
        assert.equal(event.bytes_out, 'first chunk'.length);
      });

      it('before the response: the upstream request is cancelled', async () => {
        const arrived = signal();
        const upstreamClosed = signal();
        upstream.route('/v1/ponder', (_req, res) => {
          res.on('close', () => upstreamClosed.resolve());
          arrived.resolve();
        });
        const req = request({
          host: '127.0.0.1',
          port: proxyPort,
          path: '/conn_fwd/v1/ponder',
          agent: false,
          headers: { authorization: `Bearer ${token}` },
        });
        req.on('error', () => {}); // the abort below is the point
        req.end();
        await within(arrived.promise, 5000, 'the request to reach the upstream');
        req.destroy();
        await within(upstreamClosed.promise, 5000, 'the upstream request to be closed');
        // 499: no status was ever sent to the client (the nginx convention for "client closed").
        await waitForAudit(fx.relay.api, { credential_id: credentialId }, (events) =>
          events.some((e) => e.reason === 'client_closed' && e.status === 499),
        );
      });
    });

    describe("the upstream's own answers pass through untouched", () => {
      for (const status of [401, 403, 404, 429, 500]) {
        it(`upstream ${status}: status, headers and body as sent, no Relay-Decision`, async () => {
          const body = JSON.stringify({ error: { message: `upstream says ${status}` } });
          upstream.route(`/v1/status/${status}`, (_req, res) => {
            res.writeHead(status, {
              'content-type': 'application/json; charset=utf-8',
              'www-authenticate': 'Bearer realm="upstream"',
              'x-upstream-request-id': `req-${status}`,
              'set-cookie': ['a=1; Path=/', 'b=2; Path=/'],
            });
            res.end(body);
          });
          const res = await fx.get(`/conn_fwd/v1/status/${status}`, token);
          assertPassedThrough(res, status);
          assert.equal(res.text, body);
          assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
          assert.equal(res.headers['www-authenticate'], 'Bearer realm="upstream"');
          assert.equal(res.headers['x-upstream-request-id'], `req-${status}`);
          assert.deepEqual(res.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/']);
        });
      }
    });
  });
}

describe('upstream cannot forge a Relay decision', () => {
  for (const dialect of DIALECTS) {
    describe(dialect, { skip: skipFor(dialect) }, async () => {
      const upstream = createServer((_req, res) => {
        res.writeHead(403, { 'relay-decision': 'path_not_allowed', 'content-type': 'application/json' });
        res.end('{"error":"upstream says no"}');
      });
      await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
      onCleanup(() => new Promise<void>((resolve) => upstream.close(() => resolve())));
      const relay = await startTestRelay(dialect);
      const port = (upstream.address() as AddressInfo).port;
      await relay.api('POST', '/api/v1/connections', {
        id: 'conn_forger',
        name: 'forger',
        base_url: `http://127.0.0.1:${port}`,
        auth: { type: 'bearer', secret: 'sk-forger-upstream-key' },
        options: { allow_insecure_upstream: true },
      });
      const issued = await relay.api('POST', '/api/v1/credentials', {
        name: 'forger',
        ttl_seconds: 600,
        ip_mode: 'none',
        grants: [{ connection_id: 'conn_forger', allowed_methods: ['GET'], allowed_paths: ['/**'] }],
      });

      it("strips an upstream's own Relay-Decision header and keeps the rest of its answer", async () => {
        const res = await fetch(`${relay.proxyUrl}/conn_forger/x`, {
          headers: { authorization: `Bearer ${issued.body.token}` },
        });
        assert.equal(res.status, 403);
        assert.equal(res.headers.get('relay-decision'), null);
        assert.equal(await res.text(), '{"error":"upstream says no"}');
      });
    });
  }
});
