import { createServer } from 'node:http';

/**
 * A stand-in upstream API for the README walk-through: it answers every request
 * with what it received, so you can see Relay swap your token for the real key.
 * Listens on 127.0.0.1:9999 (or ECHO_PORT).
 */
const port = Number(process.env.ECHO_PORT ?? 9999);
const server = createServer((req, res) => {
  const body = JSON.stringify(
    { method: req.method, url: req.url, authorization: req.headers.authorization ?? null },
    null,
    2,
  );
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(`${body}\n`);
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`echo upstream listening on http://127.0.0.1:${port}\n`);
});
