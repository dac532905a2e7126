import type { AuditRecord } from '../core/audit.ts';
import { type EncodedAuditRecord, encodedAuditRecord } from '../core/audit-batch-encoding.ts';
import type { Store } from '../ports/store.ts';

/**
 * Writes one batch of audit records in one transaction (sealed and chained by the
 * store's audit repository), and advances each credential's `last_used_at` once
 * per batch rather than once per request. `resent`: the batch may be stored already.
 */
export function writeAuditBatch(
  store: Store,
  batch: readonly AuditRecord[],
  options: { readonly resent?: boolean } = {},
): Promise<void> {
  return writeEncodedAuditBatch(store, batch.map(encodedAuditRecord), options);
}

/** `writeAuditBatch` for records as the audit writer receives them (core/audit-batch-encoding.ts). */
export async function writeEncodedAuditBatch(
  store: Store,
  batch: readonly EncodedAuditRecord[],
  options: { readonly resent?: boolean } = {},
): Promise<void> {
  await store.transaction(async (tx) => {
    await tx.audit.insertEncoded(batch, options);
    const lastUse = new Map<string, EncodedAuditRecord>();
    for (const r of batch)
      if (r.credentialId !== null && r.decision === 'allowed') lastUse.set(r.credentialId, r);
    for (const r of lastUse.values())
      await tx.credentials.touch(r.workspaceId, r.credentialId as string, r.at);
  });
}
