import {
  type ChainBreak,
  type ChainedAuditRecord,
  type ChainPoint,
  ChainWalker,
  GENESIS,
} from '../core/audit-chain.ts';
import { batchDigest, batchReference } from '../core/audit-seal.ts';
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
 * The sealed batches a page of records names, checked against the digests the records
 * carry (the chain covers the digest, so a changed or deleted batch shows here).
 */
async function batchBreak(
  repo: AuditRepo,
  workspaceId: string,
  page: readonly ChainedAuditRecord[],
  digests: Map<string, string | null>,
): Promise<(r: ChainedAuditRecord) => ChainBreak | undefined> {
  const wanted = new Set<string>();
  for (const r of page) {
    const reference = batchReference(r.sealed);
    if (reference !== undefined && !digests.has(reference.batchId)) wanted.add(reference.batchId);
  }
  if (wanted.size > 0) {
    const stored = await repo.sealedBatches(workspaceId, [...wanted]);
    for (const id of wanted) {
      const sealed = stored.get(id);
      digests.set(id, sealed === undefined ? null : batchDigest(sealed));
    }
  }
  return (r) => {
    const reference = batchReference(r.sealed);
    if (reference === undefined || digests.get(reference.batchId) === reference.digest) return undefined;
    return {
      kind: 'altered',
      seq: r.seq,
      id: r.id,
      detail: `the sealed batch holding its sensitive fields (${reference.batchId}) is missing or was changed`,
    };
  };
}

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
  const digests = new Map<string, string | null>();
  for (;;) {
    const page = await repo.chainPage(workspaceId, walker.last.seq, head.seq, PAGE);
    const sealedBreak = await batchBreak(repo, workspaceId, page, digests);
    for (const record of page) {
      broken = await walker.push(record);
      broken ??= sealedBreak(record);
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
