import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { auditWriter, openAuditStore, records } from './helpers.ts';

/** Nice value of each of this process's threads, by thread id (Linux: /proc/self/task). */
function threadNices(): Map<number, number> {
  const nices = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    // Fields after "(comm)": state is field 3, nice is field 19.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    nices.set(Number(tid), Number(fields[16]));
  }
  return nices;
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
