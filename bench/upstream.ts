/**
 * The fast upstream: node:http with keep-alive, answering a fixed ~200-byte JSON
 * body. It checks that the caller's key was swapped for the real one, and counts
 * every request that arrives without it (reported as an error by the orchestrator).
 *
 * Child process: reports `{type: 'ready', port}`; answers `take-stats` with the
 * counters since the last call.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  UPSTREAM_AUTHORIZATION,
  UPSTREAM_PATH,
  type UpstreamCommand,
  type UpstreamEvent,
} from './protocol.ts';

const BODY_BYTES = 200;

function fixedBody(): Buffer {
  const base = {
    object: 'list',
    data: [{ id: 'item_0001', name: 'bench item', price_cents: 1234 }],
    pad: '',
  };
  const padding = BODY_BYTES - Buffer.byteLength(JSON.stringify(base));
  return Buffer.from(JSON.stringify({ ...base, pad: 'x'.repeat(Math.max(0, padding)) }));
}

const body = fixedBody();
const okHeaders = { 'content-type': 'application/json', 'content-length': String(body.length) };
let requests = 0;
let badAuth = 0;
let badPath = 0;

const server = createServer((req, res) => {
  requests++;
  req.resume();
  if (req.url !== UPSTREAM_PATH) {
    badPath++;
    res.writeHead(404, { 'content-length': '0' }).end();
  } else if (req.headers.authorization !== UPSTREAM_AUTHORIZATION) {
    badAuth++;
    res.writeHead(401, { 'content-length': '0' }).end();
  } else {
    res.writeHead(200, okHeaders).end(body);
  }
});
// Longer than any phase, so the load generator and proxies never see a keep-alive close mid-run.
server.keepAliveTimeout = 120_000;

function send(event: UpstreamEvent): void {
  process.send?.(event);
}

process.on('message', (raw) => {
  const command = raw as UpstreamCommand;
  if (command.type === 'take-stats') {
    send({ type: 'stats', stats: { requests, badAuth, badPath } });
    requests = 0;
    badAuth = 0;
    badPath = 0;
  }
});
process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1', () => {
  send({ type: 'ready', port: (server.address() as AddressInfo).port });
});
