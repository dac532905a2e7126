#!/usr/bin/env node
// The `relay` command. A checkout runs the TypeScript sources directly (Node's type
// stripping), even when a dist/ was built there, so a stale build never shadows the
// code; a published package or image (no src/) runs the compiled dist/.
// The launchers (`npm start`, deploy/Dockerfile, deploy/relay.service) run Node with
// --single-threaded-gc (docs/deployment.md, "Node flags"). This line cannot: `env -S`
// is missing from BusyBox, and a shebang passes at most one argument without it.
import { existsSync } from 'node:fs';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(`relay: Node.js 24 or later is required (this is ${process.version})\n`);
  process.exit(1);
}

const source = new URL('../src/cli/main.ts', import.meta.url);
const entry = existsSync(source) ? source : new URL('../dist/cli/main.js', import.meta.url);

try {
  const { main } = await import(entry.href);
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  // Only a broken installation gets here: main() itself reports every failure.
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`relay: cannot run: ${message.split('\n')[0]}\n`);
  if (process.env.RELAY_DEBUG === '1' && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  process.exitCode = 1;
}
