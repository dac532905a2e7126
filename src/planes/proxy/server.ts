import { createServer, type Server } from 'node:http';
import type { Relay } from '../../app.ts';

/** Placeholder until the pipeline lands (being written now). */
export interface ProxyPlane {
  readonly server: Server;
  close(): Promise<void>;
}

export function buildProxy(_relay: Relay): ProxyPlane {
  const server = createServer((_req, res) => {
    res.writeHead(503, { 'content-type': 'application/problem+json' });
    res.end('{"code":"service_unavailable"}');
  });
  return {
    server,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
