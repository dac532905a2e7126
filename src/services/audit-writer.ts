import type { Logger } from 'pino';
import type { AuditRecord } from '../core/audit.ts';
import type { AuditSink } from '../ports/audit-sink.ts';
import type { Store } from '../ports/store.ts';

export interface AuditWriterOptions {
  /** How long a record may wait before its batch is written. */
  readonly intervalMs: number;
  /** A batch this large is written at once. */
  readonly batchSize: number;
}

/**
 * Collects audit records in memory and writes them in batches, one transaction
 * a batch, off the request path. A failed write keeps the batch and retries;
 * nothing is dropped. After each batch, `last_used_at` is advanced once per
 * credential seen, rather than once per request.
 */
export class BatchingAuditWriter implements AuditSink {
  readonly #store: Store;
  readonly #logger: Logger;
  readonly #options: AuditWriterOptions;
  #queue: AuditRecord[] = [];
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;
  #failures = 0;

  constructor(store: Store, logger: Logger, options: AuditWriterOptions) {
    this.#store = store;
    this.#logger = logger;
    this.#options = options;
  }

  get backlog(): number {
    return this.#queue.length;
  }

  record(entry: AuditRecord): void {
    this.#queue.push(entry);
    if (this.#queue.length >= this.#options.batchSize) this.#kick();
    else this.#timer ??= setTimeout(() => this.#kick(), this.#options.intervalMs);
  }

  #kick(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#writing) return;
    this.#writing = this.#writeAll().finally(() => {
      this.#writing = undefined;
      if (this.#queue.length > 0) {
        const delay = this.#failures === 0 ? 0 : Math.min(5000, 100 * 2 ** this.#failures);
        this.#timer ??= setTimeout(() => this.#kick(), delay);
      }
    });
  }

  async #writeAll(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.slice(0, this.#options.batchSize * 4);
      try {
        await this.#store.transaction(async (tx) => {
          await tx.audit.insertMany(batch);
          const lastUse = new Map<string, AuditRecord>();
          for (const r of batch)
            if (r.credentialId !== null && r.decision === 'allowed') lastUse.set(r.credentialId, r);
          for (const r of lastUse.values())
            await tx.credentials.touch(r.workspaceId, r.credentialId as string, r.at);
        });
        this.#queue.splice(0, batch.length);
        this.#failures = 0;
      } catch (error) {
        this.#failures++;
        this.#logger.error(
          { err: { message: (error as Error).message }, backlog: this.#queue.length },
          'audit write failed; will retry',
        );
        return;
      }
    }
  }

  /** Writes everything queued so far; resolves when it is stored (or rejects if the store keeps failing). */
  async flush(): Promise<void> {
    for (let attempt = 0; this.#queue.length > 0 || this.#writing; attempt++) {
      if (attempt > 50) throw new Error(`audit flush gave up with ${this.#queue.length} records pending`);
      this.#kick();
      await this.#writing;
      if (this.#queue.length > 0 && this.#failures > 0) await new Promise((r) => setTimeout(r, 100));
    }
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.#timer) clearTimeout(this.#timer);
  }
}
