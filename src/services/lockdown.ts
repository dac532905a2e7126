import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import { RelayError } from '../core/errors.ts';
import type { Actor, WorkspaceLockdown } from '../core/model.ts';
import type { Bus } from '../ports/bus.ts';
import type { SecurityEvent, Store } from '../ports/store.ts';
import { recordAdminAction } from './admin-audit.ts';
import type { SecurityAlerts } from './security-alerts.ts';
import type { SecurityEventInbox } from './security-alerts-inbox.ts';
import { type SecurityEventService, SYSTEM_WORKSPACE } from './security-events.ts';

/** SPEC §8: this many unresolved critical events within the window disable the workspace. */
export const LOCKDOWN_THRESHOLD = 3;
export const LOCKDOWN_WINDOW_MS = 3_600_000;

export interface LockdownDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly bus: Bus;
  readonly logger: Logger;
  readonly securityEvents: SecurityEventService;
  readonly inbox: SecurityEventInbox;
  readonly alerts: SecurityAlerts;
}

const SYSTEM_ACTOR = (workspaceId: string): Actor => ({ workspaceId, actor: 'system', ip: null });

/**
 * Auto-lockdown (SPEC §8). After every critical event of a workspace, the
 * unresolved critical events of the last hour are counted; at three or more the
 * workspace is locked: `settings.lockdown` records when and why, the admin
 * audit gets a row by `system`, admins are mailed and the webhook called, and
 * the bus drops every cached copy of the settings so each node's proxy refuses
 * the workspace's calls (403 `workspace_locked`) from its next request.
 *
 * Lifting is an admin's act and only possible once every critical event is
 * resolved (each resolution is audited too); the lift is audited and announced.
 *
 * Evaluations of one workspace run one after another on a node, so a burst of
 * events locks it once. (Two nodes racing may both write the same lock: the
 * state is the same; the audit shows two rows.)
 */
export class LockdownService {
  readonly #deps: LockdownDeps;
  readonly #queues = new Map<string, Promise<void>>();
  readonly #unsubscribe: () => void;

  constructor(deps: LockdownDeps) {
    this.#deps = deps;
    this.#unsubscribe = deps.securityEvents.onRaised((event) => {
      if (event.severity === 'critical' && event.workspaceId !== SYSTEM_WORKSPACE)
        return this.evaluate(event.workspaceId);
    });
  }

  /** Locks the workspace when it has enough unresolved critical events; serialised per workspace. */
  evaluate(workspaceId: string): Promise<void> {
    const previous = this.#queues.get(workspaceId) ?? Promise.resolve();
    const next = previous
      .then(() => this.#evaluate(workspaceId))
      .catch((error: unknown) =>
        this.#deps.logger.error(
          { workspace_id: workspaceId, err: { message: (error as Error).message } },
          'auto-lockdown evaluation failed',
        ),
      );
    this.#queues.set(workspaceId, next);
    void next.finally(() => {
      if (this.#queues.get(workspaceId) === next) this.#queues.delete(workspaceId);
    });
    return next;
  }

  async #evaluate(workspaceId: string): Promise<void> {
    const { store, clock, bus, logger, alerts } = this.#deps;
    const now = clock.now();
    const since = new Date(now - LOCKDOWN_WINDOW_MS).toISOString();
    const open = await store.securityEvents.countOpen(workspaceId, 'critical', since);
    if (open < LOCKDOWN_THRESHOLD) return;
    const recent = (await this.#deps.inbox.openCritical(workspaceId)).filter((e) => e.at >= since);
    const lockdown: WorkspaceLockdown = {
      locked: true,
      reason: `${open} unresolved critical security events within an hour (${describe(recent)})`,
      locked_at: new Date(now).toISOString(),
      event_ids: recent.map((e) => e.id),
      lifted_at: null,
      lifted_by: null,
    };
    const locked = await store.transaction(async (tx) => {
      const workspace = await tx.workspaces.getForUpdate(workspaceId);
      if (!workspace || workspace.settings.lockdown?.locked === true) return false;
      await tx.workspaces.updateSettings(workspaceId, { ...workspace.settings, lockdown });
      await recordAdminAction(tx, clock, SYSTEM_ACTOR(workspaceId), 'workspace.lockdown', workspaceId, {
        reason: lockdown.reason,
        event_ids: lockdown.event_ids,
      });
      return true;
    });
    if (!locked) return;
    await bus.publishInvalidation({ kind: 'workspace', workspaceId, id: workspaceId });
    logger.warn({ workspace_id: workspaceId, event_ids: lockdown.event_ids }, 'workspace locked down');
    alerts.announceLockdown(workspaceId, lockdown);
  }

  /**
   * Lifts the lockdown. Refused (409, the events listed) while any critical
   * event is unresolved; a workspace not in lockdown is answered as it is.
   */
  async lift(actor: Actor): Promise<WorkspaceLockdown | null> {
    const { store, clock, bus, logger, alerts } = this.#deps;
    const open = await this.#deps.inbox.openCritical(actor.workspaceId);
    const current = (await store.workspaces.get(actor.workspaceId))?.settings.lockdown ?? null;
    if (current === null || !current.locked) return current;
    if (open.length > 0) {
      throw new RelayError(
        'conflict',
        `the lockdown stays until every critical security event is resolved: ${open.length} unresolved`,
        open.map((e) => ({
          path: `security_events/${e.id}`,
          message: `${e.kind} (${e.severity}) at ${e.at}`,
        })),
      );
    }
    const at = new Date(clock.now()).toISOString();
    const lifted = await store.transaction(async (tx) => {
      const workspace = await tx.workspaces.getForUpdate(actor.workspaceId);
      if (!workspace) throw new RelayError('not_found', 'workspace not found');
      const state = workspace.settings.lockdown;
      if (state === undefined || !state.locked) return undefined;
      const next: WorkspaceLockdown = { ...state, locked: false, lifted_at: at, lifted_by: actor.actor };
      await tx.workspaces.updateSettings(actor.workspaceId, { ...workspace.settings, lockdown: next });
      await recordAdminAction(tx, clock, actor, 'workspace.lockdown.lift', actor.workspaceId, {
        locked_at: state.locked_at,
        event_ids: state.event_ids,
      });
      return next;
    });
    if (lifted === undefined)
      return (await store.workspaces.get(actor.workspaceId))?.settings.lockdown ?? null;
    await bus.publishInvalidation({
      kind: 'workspace',
      workspaceId: actor.workspaceId,
      id: actor.workspaceId,
    });
    logger.warn({ workspace_id: actor.workspaceId, lifted_by: actor.actor }, 'workspace lockdown lifted');
    alerts.announceLockdown(actor.workspaceId, lifted);
    return lifted;
  }

  /** Resolves once every evaluation started so far has finished. */
  async drain(): Promise<void> {
    while (this.#queues.size > 0) await Promise.all([...this.#queues.values()]);
  }

  close(): void {
    this.#unsubscribe();
  }
}

function describe(events: readonly SecurityEvent[]): string {
  const counts = new Map<string, number>();
  for (const e of events) counts.set(e.kind, (counts.get(e.kind) ?? 0) + 1);
  return [...counts].map(([kind, n]) => `${n} ${kind}`).join(', ');
}
