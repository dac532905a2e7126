import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { threadDifference } from '../../bench/phase.ts';
import { threadCpuUs, threadRole } from '../../bench/proc-cpu.ts';

describe('bench: CPU by thread', () => {
  it('names each thread of a Node process by its role', () => {
    assert.equal(threadRole(100, 100, 'node'), 'main', 'the thread whose id is the process id');
    assert.equal(threadRole(100, 101, 'WorkerThread'), 'workers');
    assert.equal(threadRole(100, 102, 'V8Worker'), 'v8');
    assert.equal(threadRole(100, 103, 'DelayedTaskSche'), 'v8');
    assert.equal(threadRole(100, 104, 'libuv-worker'), 'other');
    assert.equal(threadRole(100, 105, 'SignalInspector'), 'other');
  });

  it('reads the CPU of a live worker thread apart from the main thread', {
    skip: process.platform !== 'linux' && 'reads /proc',
  }, async () => {
    const worker = new Worker('const end = Date.now() + 10_000; while (Date.now() < end);', { eval: true });
    const before = threadCpuUs(process.pid);
    let used = threadDifference(before, threadCpuUs(process.pid));
    // Wait for 100 ms of the worker's CPU (a busy machine may not give it at once).
    for (let waited = 0; (used?.workers ?? 0) < 100_000 && waited < 8000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      used = threadDifference(before, threadCpuUs(process.pid));
    }
    await worker.terminate();
    assert.ok(used !== null);
    assert.ok(used.workers >= 100_000, `the spinning worker used ${used.workers} µs`);
    assert.ok(used.main < used.workers, 'the main thread was waiting meanwhile');
  });

  it('a thread that exited drops out without making a role negative', () => {
    const start = { main: 500, workers: 300, v8: 20, other: 0 };
    const end = { main: 700, workers: 0, v8: 25, other: 10 };
    assert.deepEqual(threadDifference(start, end), { main: 200, workers: 0, v8: 5, other: 10 });
    assert.equal(threadDifference(null, end), null);
  });
});
