import { stat } from 'node:fs/promises';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { decodeAuditBatch, type EncodedAuditRecord } from '../../core/audit-batch-encoding.ts';
import { AuditSealer } from '../../core/audit-seal.ts';
import { systemClock } from '../../core/clock.ts';
import { Vault } from '../../core/vault.ts';
import { writeEncodedAuditBatch } from '../../services/audit-batch.ts';
import { LocalKeyProvider } from '../local-key/local-key-provider.ts';
import { openAuditWriterStore } from './open-store.ts';

/**
 * The audit writer's thread: it owns its own store connection and does all the
 * SQL work (statement building, SQLite's synchronous writes, PostgreSQL
 * encoding), so none of it runs on the proxy's event loop. Batches are written
 * in arrival order; each is acknowledged only once committed. A failed write is
 * retried with backoff, never dropped. Sealing the sensitive fields and hash-
 * chaining the records (core/audit-seal.ts, core/audit-chain.ts) happen here too,
 * with a key provider built from the same configuration as the main thread's.
 */
interface BatchMessage {
  readonly type: 'batch';
  readonly seq: number;
  /** The records, as core/audit-batch-encoding.ts encodes them (see WorkerAuditWriter). */
  readonly text: string;
  /** Sent again after a worker died: the dead worker may have committed it. */
  readonly resent?: boolean;
}

interface Batch {
  readonly seq: number;
  readonly records: readonly EncodedAuditRecord[];
  readonly resent: boolean;
}

const port = parentPort;
if (!port) throw new Error('audit-worker must run as a worker thread');
export interface AuditWorkerData {
  readonly databaseUrl: string;
  readonly dataDir: string;
  readonly masterKey: string;
  readonly masterKeyFile: string;
  /** This thread's nice value; 0 leaves it alone (see RELAY_AUDIT_WORKER_NICE). */
  readonly nice: number;
}

const { databaseUrl, dataDir, masterKey, masterKeyFile, nice } = workerData as AuditWorkerData;
// Linux keeps a nice value per thread, so this lowers only the writer's priority: under
// contention the scheduler hands the CPU back to the request path sooner. Elsewhere the
// call would lower the whole process, so it is not made.
if (nice > 0 && process.platform === 'linux') {
  // A new thread inherits its creator's nice value, and libuv starts its shared thread
  // pool (DNS lookups, file I/O) on first use, from whichever thread uses it first.
  // Use it once before lowering this thread, so the pool the proxy relies on never
  // starts from here at the lower priority (a PostgreSQL host name would start it).
  await stat(dataDir).catch(() => undefined);
  try {
    setPriority(nice);
  } catch (error) {
    port.postMessage({ type: 'priority_failed', message: (error as Error).message });
  }
}
const store = openAuditWriterStore(databaseUrl, dataDir);
store.useAuditSealer(
  new AuditSealer(new Vault(LocalKeyProvider.fromConfig({ masterKey, masterKeyFile })), systemClock),
);
const queue: Batch[] = [];
let writing = false;
let failures = 0;
/** Batches merged into one transaction, up to this many records. */
const MAX_RECORDS_PER_TRANSACTION = 2000;

async function drain(): Promise<void> {
  if (writing) return;
  writing = true;
  try {
    while (queue.length > 0) {
      const take: Batch[] = [];
      let count = 0;
      while (
        queue.length > 0 &&
        (take.length === 0 || count + (queue[0]?.records.length ?? 0) <= MAX_RECORDS_PER_TRANSACTION)
      ) {
        const next = queue.shift() as Batch;
        take.push(next);
        count += next.records.length;
      }
      try {
        await writeEncodedAuditBatch(
          store,
          take.flatMap((b) => b.records),
          { resent: take.some((b) => b.resent) },
        );
        failures = 0;
        port?.postMessage({ type: 'ack', seqs: take.map((b) => b.seq) });
      } catch (error) {
        queue.unshift(...take);
        failures++;
        port?.postMessage({ type: 'failed', message: (error as Error).message, backlog: queue.length });
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 50 * 2 ** failures)));
      }
    }
  } finally {
    writing = false;
  }
}

port.on('message', (message: BatchMessage | { type: 'close' }) => {
  if (message.type === 'close') {
    const finish = () => {
      if (queue.length > 0 || writing) return void setTimeout(finish, 10);
      store.close().finally(() => port?.postMessage({ type: 'closed' }));
    };
    finish();
    return;
  }
  const records = decodeAuditBatch(message.text);
  queue.push({ seq: message.seq, records, resent: message.resent === true });
  void drain();
});
