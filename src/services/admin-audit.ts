import type { Clock } from '../core/clock.ts';
import { newId } from '../core/ids.ts';
import type { Actor } from '../core/model.ts';
import type { Repositories } from '../ports/store.ts';

/**
 * Records an admin action inside the caller's transaction, so the change and
 * its audit row land together or not at all (as Unkey does).
 */
export async function recordAdminAction(
  tx: Repositories,
  clock: Clock,
  actor: Actor,
  action: string,
  subject: string,
  metadata: Record<string, unknown> = {},
): Promise<void> {
  await tx.adminAudit.insert({
    workspaceId: actor.workspaceId,
    id: newId('adminAudit'),
    at: new Date(clock.now()).toISOString(),
    actor: actor.actor,
    action,
    subject,
    metadata,
    ip: actor.ip,
  });
}
