import type { Logger } from 'pino';
import type { ChainBreak, ChainPoint } from '../core/audit-chain.ts';
import type { Clock } from '../core/clock.ts';
import type { Store } from '../ports/store.ts';
import { auditChainIds } from './audit-verify.ts';
import { DEFAULT_WORKSPACE_SETTINGS } from './workspaces.ts';

/**
 * Audit retention (SPEC §7): records older than their workspace's
 * `audit_retention_days` are deleted, oldest first, in transactions of about
 * PRUNE_CHUNK records (chained records go by whole segments: a segment that
 * also holds younger records waits until they are old enough too). Each moves the chain's anchor to the last record it
 * deleted, so `relay audit verify` starts from there and the rest of the chain
 * still verifies. A prune never passes a break in the chain: the evidence stays
 * until an operator has looked at it. Unattributed records (workspace `''`)
 * are kept for the default retention.
 */

export interface PruneReport {
  readonly workspaceId: string;
  readonly retentionDays: number;
  readonly cutoff: string;
  readonly deleted: number;
  readonly deletedUnchained: number;
  readonly anchor: ChainPoint | null;
  readonly stoppedAt: ChainBreak | null;
}

const DAY_MS = 86_400_000;
const PRUNE_CHUNK = 5000;

export async function pruneWorkspaceAudit(
  store: Store,
  clock: Clock,
  workspaceId: string,
  retentionDays: number,
): Promise<PruneReport> {
  const now = clock.now();
  const cutoff = new Date(now - retentionDays * DAY_MS).toISOString();
  let deleted = 0;
  let deletedUnchained = 0;
  for (;;) {
    const result = await store.transaction((tx) =>
      tx.audit.prune(workspaceId, cutoff, PRUNE_CHUNK, new Date(now).toISOString()),
    );
    deleted += result.deleted;
    deletedUnchained += result.deletedUnchained;
    // Chained records go by whole segments (as many as fit in a chunk, at least one).
    const more = result.deleted > 0 || result.deletedUnchained === PRUNE_CHUNK;
    if (result.stoppedAt !== null || !more) {
      return {
        workspaceId,
        retentionDays,
        cutoff,
        deleted,
        deletedUnchained,
        anchor: result.anchor,
        stoppedAt: result.stoppedAt,
      };
    }
  }
}

/** Prunes every chain (or only `workspaceId`'s) by its workspace's retention. */
export async function pruneAudit(
  store: Store,
  clock: Clock,
  options: { readonly workspaceId?: string } = {},
): Promise<PruneReport[]> {
  const workspaces = new Map((await store.workspaces.list()).map((w) => [w.id, w]));
  const ids =
    options.workspaceId === undefined
      ? await auditChainIds(store.audit, store.workspaces)
      : [options.workspaceId];
  const reports: PruneReport[] = [];
  for (const id of ids) {
    const days =
      workspaces.get(id)?.settings.audit_retention_days ?? DEFAULT_WORKSPACE_SETTINGS.audit_retention_days;
    reports.push(await pruneWorkspaceAudit(store, clock, id, days));
  }
  return reports;
}

export interface AuditRetentionOptions {
  readonly store: Store;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Between runs (default one hour). */
  readonly intervalMs?: number;
  /** Before the first run (default one minute): a node restarted more often than hourly still prunes. */
  readonly firstRunMs?: number;
}

/**
 * The scheduled prune of a running server: a minute after start, then hourly. Every node of a cluster runs
 * it; their prunes of one chain take its lock in turn, and the later one finds
 * nothing left to do. Its timer never keeps the process alive.
 */
export class AuditRetentionJob {
  readonly #options: AuditRetentionOptions;
  readonly #first: NodeJS.Timeout;
  readonly #timer: NodeJS.Timeout;
  #running: Promise<void> | undefined;

  constructor(options: AuditRetentionOptions) {
    this.#options = options;
    this.#first = setTimeout(() => void this.run(), options.firstRunMs ?? 60_000);
    this.#timer = setInterval(() => void this.run(), options.intervalMs ?? 3_600_000);
    this.#first.unref();
    this.#timer.unref();
  }

  /** One prune of every chain; a run already under way is joined, not doubled. */
  run(): Promise<void> {
    this.#running ??= this.#prune().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #prune(): Promise<void> {
    const { store, clock, logger } = this.#options;
    try {
      for (const r of await pruneAudit(store, clock)) {
        if (r.deleted > 0 || r.deletedUnchained > 0)
          logger.info(
            {
              workspace_id: r.workspaceId,
              deleted: r.deleted + r.deletedUnchained,
              anchor_seq: r.anchor?.seq,
            },
            'audit records pruned',
          );
        if (r.stoppedAt !== null)
          logger.error(
            { workspace_id: r.workspaceId, break: r.stoppedAt },
            'audit chain is broken: pruning stopped before the break; run "relay audit verify"',
          );
      }
    } catch (error) {
      logger.error({ err: { message: (error as Error).message } }, 'audit prune failed; will retry');
    }
  }

  /** Stops the schedule and waits for a run under way. */
  async stop(): Promise<void> {
    clearTimeout(this.#first);
    clearInterval(this.#timer);
    await this.#running;
  }
}
