import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { writerNice } from '../../src/services/worker-audit-writer.ts';
import { skipFor } from '../harness.ts';
import { auditWriter, openAuditStore, records } from './helpers.ts';
import { type ThreadInfo, threads } from './threads.ts';

/** Nice value of each of this process's threads, by thread id. */
function threadNices(): Map<number, number> {
  return new Map(threads().map((t) => [t.tid, t.nice]));
}

/**
 * RELAY_AUDIT_WORKER_NICE: the audit writer thread runs at a lower CPU priority
 * than the threads answering requests, and only that thread does.
 */
describe('audit writer thread priority', { skip: process.platform !== 'linux' && 'Linux only' }, () => {
  it('lowers the writer thread, and only it', async () => {
    const a = await openAuditStore('sqlite');
    const before = threadNices();
    const writer = auditWriter(a, 10, { nice: 7 });
    for (const r of records(5, { workspaceId: 'ws_priority' })) writer.record(r);
    await writer.flush(); // the worker is running (it wrote the batch)
    const lowered = [...threadNices()].filter(([tid, nice]) => nice === 7 && !before.has(tid));
    assert.equal(lowered.length, 1, 'exactly one new thread, the writer, runs at nice 7');
    assert.equal(
      threadNices().get(process.pid),
      before.get(process.pid),
      'the main thread keeps its priority',
    );
    assert.equal(await a.store.audit.count('ws_priority'), 5);
  });

  it('0 leaves every thread alone', async () => {
    const a = await openAuditStore('sqlite');
    const before = threadNices();
    const writer = auditWriter(a, 10, { nice: 0 });
    for (const r of records(5, { workspaceId: 'ws_priority_0' })) writer.record(r);
    await writer.flush();
    const base = before.get(process.pid);
    for (const [tid, nice] of threadNices()) if (!before.has(tid)) assert.equal(nice, base, `thread ${tid}`);
  });
});

/**
 * Threads inherit their creator's nice value, and libuv's shared thread pool
 * starts on first use. A writer that reaches PostgreSQL by host name looks the
 * name up in that pool: it must not be the one to start it at its lower priority.
 */
describe('audit writer thread priority, thread pool', {
  skip: (process.platform !== 'linux' && 'Linux only') || skipFor('postgres'),
}, () => {
  it('the thread pool does not start at the writer priority', { timeout: 30_000 }, async () => {
    const a = await openAuditStore('postgres');
    const byName = new URL(a.databaseUrl);
    byName.hostname = 'localhost'; // a name, so the writer's first connection uses the pool
    const child = new URL('./priority-child.ts', import.meta.url);
    const batch = JSON.stringify(records(3, { workspaceId: 'ws_priority_pool' }));
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [fileURLToPath(child), byName.toString(), a.dataDir, a.masterKey, batch],
      { timeout: 20_000 },
    );
    const seen = JSON.parse(stdout) as ThreadInfo[];
    const pool = seen.filter((t) => t.name.startsWith('libuv-worker'));
    assert.ok(pool.length > 0, `the pool was started: ${stdout}`);
    for (const t of pool) assert.equal(t.nice, 0, `pool thread ${t.tid} runs at nice ${t.nice}`);
    assert.equal(seen.filter((t) => t.nice === 7).length, 1, 'only the writer is lowered');
    assert.equal(await a.store.audit.count('ws_priority_pool'), 3);
  });
});

describe('writerNice', () => {
  it('applies the configured value with two or more CPUs, and never on a single CPU', () => {
    assert.equal(writerNice(10, 2), 10);
    assert.equal(writerNice(10, 64), 10);
    assert.equal(writerNice(0, 8), 0);
    assert.equal(writerNice(10, 1), 0);
  });
});
