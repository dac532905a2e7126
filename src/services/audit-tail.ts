import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditRepo, SequencedAuditRecord } from '../ports/store.ts';

export interface TailOptions {
  /** Start after this position; default: the head when the tail starts (only new records). */
  readonly afterSeq?: number;
  readonly intervalMs?: number;
  readonly signal: AbortSignal;
}

const PAGE = 500;

/** The chain position a tail starts from when none is given: its head now. */
export async function tailStart(repo: AuditRepo, workspaceId: string): Promise<number> {
  return (await repo.chainState(workspaceId)).head?.seq ?? 0;
}

/**
 * A live tail of one workspace's audit log: batches of records as they are
 * committed, in chain order. It polls the store by position rather than
 * listening to the local writer, because in a cluster the records come from
 * every node's writer; positions are handed out under the chain's lock, in
 * commit order, so polling `seq > last` misses nothing. Ends when `signal` aborts.
 */
export async function* tailAudit(
  repo: AuditRepo,
  workspaceId: string,
  options: TailOptions,
): AsyncGenerator<readonly SequencedAuditRecord[]> {
  const { signal } = options;
  let last = options.afterSeq ?? (await tailStart(repo, workspaceId));
  while (!signal.aborted) {
    const batch = await repo.after(workspaceId, last, PAGE);
    if (signal.aborted) return;
    if (batch.length > 0) {
      last = (batch.at(-1) as SequencedAuditRecord).seq;
      yield batch;
    }
    if (batch.length === PAGE) continue;
    try {
      await sleep(options.intervalMs ?? 500, undefined, { signal });
    } catch {
      return; // aborted while waiting
    }
  }
}
