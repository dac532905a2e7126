import type { AuditRecord } from '../core/audit.ts';
import type { Store } from '../ports/store.ts';

/**
 * Writes one batch of audit records in one transaction (sealed and chained by the
 * store's audit repository), and advances each credential's `last_used_at` once
 * per batch rather than once per request. `resent`: the batch may be stored already.
 */
export async function writeAuditBatch(
  store: Store,
  batch: readonly AuditRecord[],
  options: { readonly resent?: boolean } = {},
): Promise<void> {
  await store.transaction(async (tx) => {
    await tx.audit.insertMany(batch, options);
    const lastUse = new Map<string, AuditRecord>();
    for (const r of batch)
      if (r.credentialId !== null && r.decision === 'allowed') lastUse.set(r.credentialId, r);
    for (const r of lastUse.values())
      await tx.credentials.touch(r.workspaceId, r.credentialId as string, r.at);
  });
}
