import { type ChainBreak, type ChainPoint, ChainWalker, GENESIS } from '../core/audit-chain.ts';
import type { AuditRepo } from '../ports/store.ts';

/** What `relay audit verify` reports for one chain. */
export interface ChainReport {
  readonly workspaceId: string;
  readonly ok: boolean;
  /** Records checked (those after the anchor, up to the head read when the walk began). */
  readonly checked: number;
  /** Where the walk started: the last prune's anchor, or the chain's beginning. */
  readonly anchor: ChainPoint | null;
  readonly head: ChainPoint | null;
  /** The first deleted, altered or reordered record; null when the chain is intact. */
  readonly break: ChainBreak | null;
  /** Records from before the chain existed (migration 0005): not covered by it. */
  readonly unchained: number;
}

const PAGE = 1000;

/**
 * Walks one workspace's chain from its anchor to the head as it stood when the
 * walk began (records written meanwhile are left for the next run), page by
 * page, and stops at the first break. Reads records as stored: no key needed.
 */
export async function verifyAuditChain(repo: AuditRepo, workspaceId: string): Promise<ChainReport> {
  const { head, anchor } = await repo.chainState(workspaceId);
  const unchained = await repo.countUnchained(workspaceId);
  if (head === null) return { workspaceId, ok: true, checked: 0, anchor, head, break: null, unchained };
  const walker = new ChainWalker(anchor ?? GENESIS, (hash) => repo.findByHash(workspaceId, hash));
  let broken: ChainBreak | undefined;
  for (;;) {
    const page = await repo.chainPage(workspaceId, walker.last.seq, head.seq, PAGE);
    for (const record of page) {
      broken = await walker.push(record);
      if (broken) break;
    }
    if (broken || page.length < PAGE) break;
  }
  broken ??= walker.finish(head);
  return {
    workspaceId,
    ok: broken === undefined,
    checked: walker.checked,
    anchor,
    head,
    break: broken ?? null,
    unchained,
  };
}

/** Every chain: each workspace's and the unattributed records' (`''`). */
export async function auditChainIds(
  repo: AuditRepo,
  workspaces: { list(): Promise<ReadonlyArray<{ readonly id: string }>> },
): Promise<string[]> {
  const ids = new Set<string>(['', ...(await workspaces.list()).map((w) => w.id)]);
  for (const id of await repo.chainedWorkspaces()) ids.add(id);
  return [...ids];
}
