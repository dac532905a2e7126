import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { AuditWorkerData } from '../adapters/db/audit-worker.ts';
import type { AuditRecord } from '../core/audit.ts';
import { encodeAuditRecord, joinAuditBatch } from '../core/audit-batch-encoding.ts';
import type { AuditSink } from '../ports/audit-sink.ts';

export interface WorkerAuditOptions {
  readonly databaseUrl: string;
  readonly dataDir: string;
  /** The worker seals records itself: it builds its key provider from these, as the main thread does. */
  readonly masterKey: string;
  readonly masterKeyFile: string;
  /** How long a record may wait before its batch is handed to the writer. */
  readonly intervalMs: number;
  /** A batch this large is handed over at once. */
  readonly batchSize: number;
  /** Nice value of the writer thread on Linux (RELAY_AUDIT_WORKER_NICE); 0 or absent leaves it alone. */
  readonly nice?: number;
  /** The worker's script; tests put one in front of it that dies, to show nothing is lost. */
  readonly workerUrl?: URL;
}

const WORKER_URL = new URL(
  import.meta.url.endsWith('.ts') ? '../adapters/db/audit-worker.ts' : '../adapters/db/audit-worker.js',
  import.meta.url,
);

type WorkerMessage =
  | { readonly type: 'ack'; readonly seqs: readonly number[] }
  | { readonly type: 'failed'; readonly message: string; readonly backlog: number }
  | { readonly type: 'priority_failed'; readonly message: string }
  | { readonly type: 'closed' };

/**
 * The writer thread's nice value: the configured one, except on a host with a
 * single CPU. There the writer shares the only core with the request path and,
 * lowered, would get about a tenth of it under load: it would fall behind until
 * the proxy refuses requests at RELAY_AUDIT_MAX_BACKLOG. With two or more, the
 * request path (one event loop) leaves it a core to catch up on.
 */
export function writerNice(configured: number, cpus: number): number {
  return cpus > 1 ? configured : 0;
}

/** A batch as kept until acknowledged: encoded, so its records are not live objects here. */
interface SentBatch {
  readonly text: string;
  readonly count: number;
}

/**
 * The proxy's AuditSink: each record is encoded on the request path
 * (core/audit-batch-encoding.ts: one JSON text while its fields are fresh),
 * handed to the audit worker thread in batches, and forgotten only when the
 * worker acknowledges that their transaction committed. A batch waits for its
 * acknowledgement as the one string that crossed to the worker: records held as
 * objects until their commit would outlive young-generation collections, be
 * promoted, and lengthen the old-generation pauses every request then waits
 * through. If the worker dies, a new one is
 * started and every unacknowledged batch is sent again, so a crash loses
 * nothing; `flush()` resolves when everything recorded so far is stored.
 *
 * Pacing, measured on the reference machine (docs/performance.md): every few
 * milliseconds (waking the worker each time) cost more tail latency than a
 * batch every 100 ms; but a 100 ms batch is a burst of several milliseconds of
 * writer work that preempts the request path. A batch every 20 ms from a
 * writer thread at lower priority (RELAY_AUDIT_WORKER_NICE) stalls it least.
 */
export class WorkerAuditWriter implements AuditSink {
  readonly #options: WorkerAuditOptions;
  readonly #logger: Logger;
  #worker: Worker;
  /** Records encoded as they come (core/audit-batch-encoding.ts), joined into a batch when sent. */
  #buffer: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  #seq = 0;
  readonly #unacked = new Map<number, SentBatch>();
  #unackedRecords = 0;
  #waiters: Array<() => void> = [];
  #closing = false;

  constructor(options: WorkerAuditOptions, logger: Logger) {
    this.#options = options;
    this.#logger = logger;
    this.#worker = this.#spawn();
  }

  #spawn(): Worker {
    const worker = new Worker(this.#options.workerUrl ?? WORKER_URL, {
      workerData: {
        databaseUrl: this.#options.databaseUrl,
        dataDir: this.#options.dataDir,
        masterKey: this.#options.masterKey,
        masterKeyFile: this.#options.masterKeyFile,
        nice: this.#options.nice ?? 0,
      } satisfies AuditWorkerData,
    });
    worker.on('message', (message: WorkerMessage) => this.#onMessage(message));
    worker.on('error', (error) => {
      this.#logger.error({ err: { message: error.message } }, 'audit worker failed; restarting it');
    });
    worker.on('exit', (code) => {
      if (this.#closing || worker !== this.#worker) return;
      this.#logger.error(
        { code, unacked: this.#unackedRecords },
        'audit worker exited; restarting and resending',
      );
      this.#worker = this.#spawn();
      for (const [seq, sent] of this.#unacked)
        this.#worker.postMessage({ type: 'batch', seq, text: sent.text, resent: true });
    });
    return worker;
  }

  #onMessage(message: WorkerMessage): void {
    if (message.type === 'ack') {
      for (const seq of message.seqs) {
        const sent = this.#unacked.get(seq);
        if (sent) {
          this.#unackedRecords -= sent.count;
          this.#unacked.delete(seq);
        }
      }
      if (this.backlog === 0) this.#wake();
    } else if (message.type === 'failed') {
      this.#logger.error(
        { err: { message: message.message }, backlog: this.backlog },
        'audit write failed; will retry',
      );
    } else if (message.type === 'priority_failed') {
      this.#logger.warn(
        { err: { message: message.message } },
        'audit writer thread keeps normal priority: could not lower it',
      );
    }
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Records not yet committed: buffered here or in flight to the worker. */
  get backlog(): number {
    return this.#buffer.length + this.#unackedRecords;
  }

  record(entry: AuditRecord): void {
    this.#buffer.push(encodeAuditRecord(entry));
    if (this.#buffer.length >= this.#options.batchSize) this.#send();
    else this.#timer ??= setTimeout(this.#sendLater, this.#options.intervalMs);
  }

  readonly #sendLater = (): void => this.#send();

  #send(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#buffer.length === 0) return;
    const sent: SentBatch = { text: joinAuditBatch(this.#buffer), count: this.#buffer.length };
    this.#buffer = [];
    const seq = ++this.#seq;
    this.#unacked.set(seq, sent);
    this.#unackedRecords += sent.count;
    this.#worker.postMessage({ type: 'batch', seq, text: sent.text });
  }

  async flush(): Promise<void> {
    this.#send();
    if (this.backlog === 0) return;
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  async close(): Promise<void> {
    await this.flush();
    this.#closing = true;
    const worker = this.#worker;
    await new Promise<void>((resolve) => {
      const done = setTimeout(resolve, 5000);
      worker.once('message', (m: WorkerMessage) => {
        if (m.type === 'closed') {
          clearTimeout(done);
          resolve();
        }
      });
      worker.postMessage({ type: 'close' });
    });
    await worker.terminate();
  }
}
