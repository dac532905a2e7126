/**
 * The baseline: a minimal pass-through proxy in Node, node:http in front of an
 * undici keep-alive Pool, streaming both bodies, with no checks at all. What it
 * costs is the floor any Node proxy pays.
 *
 * Child process: `minimal-proxy.ts <upstream origin>`; reports `{type: 'ready', port}`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import type { ProxyEvent } from './protocol.ts';

// Hop-by-hop headers are not forwarded (RFC 9110 §7.6.1); `host` is set by undici from the origin.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

type Headers = Record<string, string | string[]>;

function endToEnd(headers: Readonly<Record<string, string | string[] | undefined>>): Headers {
  const out: Headers = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

const origin = process.argv[2];
if (origin === undefined) throw new Error('usage: minimal-proxy.ts <upstream origin>');
const pool = new Pool(origin, { connections: 128, keepAliveTimeout: 120_000, keepAliveMaxTimeout: 600_000 });

const server = createServer((req, res) => {
  const hasBody =
    req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  pool.stream(
    {
      path: req.url ?? '/',
      method: req.method ?? 'GET',
      headers: endToEnd(req.headers),
      body: hasBody ? req : null,
    },
    ({ statusCode, headers }) => {
      res.writeHead(statusCode, endToEnd(headers));
      return res;
    },
    (error) => {
      if (error === null) return;
      if (res.headersSent) res.destroy(error);
      else res.writeHead(502, { 'content-length': '0' }).end();
    },
  );
});
server.keepAliveTimeout = 120_000;

process.on('disconnect', () => process.exit(0));
server.listen(0, '127.0.0.1', () => {
  const ready: ProxyEvent = { type: 'ready', port: (server.address() as AddressInfo).port };
  process.send?.(ready);
});
