#!/usr/bin/env node
// The `relay` command. A published package runs the compiled dist/; a checkout
// runs the TypeScript sources directly (Node's type stripping).
import { existsSync } from 'node:fs';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(`relay: Node.js 24 or later is required (this is ${process.version})\n`);
  process.exit(1);
}

const built = new URL('../dist/cli/main.js', import.meta.url);
const entry = existsSync(built) ? built : new URL('../src/cli/main.ts', import.meta.url);

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
