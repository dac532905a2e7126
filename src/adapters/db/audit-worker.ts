import { deserialize } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import type { AuditRecord } from '../../core/audit.ts';
import { AuditSealer } from '../../core/audit-seal.ts';
import { systemClock } from '../../core/clock.ts';
import { Vault } from '../../core/vault.ts';
import { writeAuditBatch } from '../../services/audit-batch.ts';
import { LocalKeyProvider } from '../local-key/local-key-provider.ts';
import { openStore } from './open-store.ts';

/**
 * The audit writer's thread: it owns its own store connection and does all the
 * SQL work (statement building, SQLite's synchronous writes, PostgreSQL
 * encoding), so none of it runs on the proxy's event loop. The proxy hands
 * records over in small parcels; they are gathered here and written in arrival
 * order, a batch at a time (`batchSize` records, or whatever has waited
 * `intervalMs`); each parcel is acknowledged only once committed. A failed write is
 * retried with backoff, never dropped. Sealing the sensitive fields and hash-
 * chaining the records (core/audit-seal.ts, core/audit-chain.ts) happen here too,
 * with a key provider built from the same configuration as the main thread's.
 */
interface ParcelMessage {
  readonly type: 'batch';
  readonly seq: number;
  /** The records, `v8.serialize`d (see WorkerAuditWriter). */
  readonly bytes: Uint8Array;
  /** Sent again after a worker died: the dead worker may have committed it. */
  readonly resent?: boolean;
}

interface BatchMessage {
  readonly seq: number;
  readonly records: readonly AuditRecord[];
  readonly resent: boolean;
}

const port = parentPort;
if (!port) throw new Error('audit-worker must run as a worker thread');
export interface AuditWorkerData {
  readonly databaseUrl: string;
  readonly dataDir: string;
  readonly masterKey: string;
  readonly masterKeyFile: string;
  /** The longest a received record waits before it is written. */
  readonly intervalMs: number;
  /** Records received up to this many are written together at once. */
  readonly batchSize: number;
}

const { databaseUrl, dataDir, masterKey, masterKeyFile, intervalMs, batchSize } =
  workerData as AuditWorkerData;
const store = openStore(databaseUrl, dataDir);
store.useAuditSealer(
  new AuditSealer(new Vault(LocalKeyProvider.fromConfig({ masterKey, masterKeyFile })), systemClock),
);
const queue: BatchMessage[] = [];
let queuedRecords = 0;
let writing = false;
let failures = 0;
/** Set while received records wait for their batch to fill. */
let timer: NodeJS.Timeout | undefined;
/** Queued parcels to write now, full batch or not (the timer fired, or a flush or close was asked). */
let due = 0;
/** Batches merged into one transaction, up to this many records. */
const MAX_RECORDS_PER_TRANSACTION = 2000;

/**
 * Writes now when a batch is full, else within `intervalMs` of the oldest waiting
 * record. Records that arrive during a write wait for their own batch or timer,
 * rather than following at once as a trickle of small transactions.
 */
function schedule(): void {
  if (queuedRecords >= batchSize) void drain(false);
  else if (queuedRecords > 0) timer ??= setTimeout(() => void drain(true), intervalMs);
}

async function drain(all: boolean): Promise<void> {
  if (all) {
    due = queue.length;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  }
  if (writing) return;
  writing = true;
  try {
    while (queue.length > 0 && (due > 0 || queuedRecords >= batchSize)) {
      const take: BatchMessage[] = [];
      let count = 0;
      while (
        queue.length > 0 &&
        (take.length === 0 || count + (queue[0]?.records.length ?? 0) <= MAX_RECORDS_PER_TRANSACTION)
      ) {
        const next = queue.shift() as BatchMessage;
        take.push(next);
        count += next.records.length;
      }
      queuedRecords -= count;
      due = Math.max(0, due - take.length);
      try {
        await writeAuditBatch(
          store,
          take.flatMap((b) => b.records),
          { resent: take.some((b) => b.resent) },
        );
        failures = 0;
        port?.postMessage({ type: 'ack', seqs: take.map((b) => b.seq) });
      } catch (error) {
        queue.unshift(...take);
        queuedRecords += count;
        due += take.length;
        failures++;
        port?.postMessage({ type: 'failed', message: (error as Error).message, backlog: queue.length });
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 50 * 2 ** failures)));
      }
    }
  } finally {
    writing = false;
    schedule();
  }
}

port.on('message', (message: ParcelMessage | { type: 'flush' } | { type: 'close' }) => {
  if (message.type === 'flush') {
    void drain(true);
    return;
  }
  if (message.type === 'close') {
    void drain(true);
    const finish = () => {
      if (queue.length > 0 || writing) return void setTimeout(finish, 10);
      store.close().finally(() => port?.postMessage({ type: 'closed' }));
    };
    finish();
    return;
  }
  const records = deserialize(message.bytes) as AuditRecord[];
  queue.push({ seq: message.seq, records, resent: message.resent === true });
  queuedRecords += records.length;
  schedule();
});
