import type { Clock } from '../core/clock.ts';
import { RelayError } from '../core/errors.ts';
import type { Actor } from '../core/model.ts';
import type { Page, SecurityEvent, Store } from '../ports/store.ts';
import { recordAdminAction } from './admin-audit.ts';
import { SYSTEM_WORKSPACE } from './security-events.ts';

/**
 * A workspace's security events as its admins see them (SPEC §8): its own and
 * the system-wide ones (brute force by unknown tokens: no workspace to pin them
 * on), newest first, with one cursor over both. Resolving is admin-audited.
 */

export interface SecurityEventFilter {
  readonly limit: number;
  readonly cursor?: string;
  readonly status?: SecurityEvent['status'];
  readonly kind?: string;
}

/** The public shape of an event: the API's and the webhook's. */
export function securityEventView(e: SecurityEvent) {
  return {
    id: e.id,
    at: e.at,
    kind: e.kind,
    severity: e.severity,
    subject: e.subject,
    detail: e.detail,
    status: e.status,
    resolved_at: e.resolvedAt,
    resolved_by: e.resolvedBy,
    scope: e.workspaceId === SYSTEM_WORKSPACE ? ('system' as const) : ('workspace' as const),
  };
}

/**
 * The merged cursor: each source's own store cursor (undefined: from the top;
 * null: exhausted). Opaque to clients; base64url JSON.
 */
interface MergedCursor {
  readonly w: string | null | undefined;
  readonly s: string | null | undefined;
}

function encode(cursor: MergedCursor): string {
  // 0 stands for undefined (from the top), which JSON cannot carry; null (exhausted) stays null.
  const part = (v: string | null | undefined) => (v === undefined ? 0 : v);
  return Buffer.from(JSON.stringify({ w: part(cursor.w), s: part(cursor.s) })).toString('base64url');
}

function decode(text: string | undefined): MergedCursor {
  if (text === undefined) return { w: undefined, s: undefined };
  const bad = () =>
    new RelayError('validation_failed', 'cursor is not a cursor from a previous page', [
      { path: 'query/cursor', message: 'is invalid' },
    ]);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  const part = (v: unknown): string | null | undefined => {
    if (v === 0) return undefined;
    if (v === null || typeof v === 'string') return v;
    throw bad();
  };
  if (typeof value !== 'object' || value === null) throw bad();
  const { w, s } = value as { w?: unknown; s?: unknown };
  return { w: part(w), s: part(s) };
}

const newestFirst = (a: SecurityEvent, b: SecurityEvent): number =>
  a.at === b.at ? (a.id < b.id ? 1 : -1) : a.at < b.at ? 1 : -1;

export class SecurityEventInbox {
  readonly #store: Store;
  readonly #clock: Clock;

  constructor(store: Store, clock: Clock) {
    this.#store = store;
    this.#clock = clock;
  }

  async list(workspaceId: string, filter: SecurityEventFilter): Promise<Page<SecurityEvent>> {
    const { limit } = filter;
    const cursor = decode(filter.cursor);
    const repo = this.#store.securityEvents;
    const options = { status: filter.status, kind: filter.kind };
    const read = (ws: string, from: string | null | undefined, n: number): Promise<Page<SecurityEvent>> =>
      from === null || n === 0
        ? Promise.resolve({ data: [], nextCursor: from ?? null })
        : repo.list(ws, { ...options, limit: n, ...(from === undefined ? {} : { cursor: from }) });
    const [own, system] = await Promise.all([
      read(workspaceId, cursor.w, limit),
      read(SYSTEM_WORKSPACE, cursor.s, limit),
    ]);
    const merged = [...own.data, ...system.data].sort(newestFirst).slice(0, limit);
    const takenOwn = merged.filter((e) => e.workspaceId !== SYSTEM_WORKSPACE).length;
    const takenSystem = merged.length - takenOwn;
    /** Where a source resumes: after the last row taken from it (a re-read of exactly that many gives its cursor). */
    const resume = async (
      ws: string,
      from: string | null | undefined,
      page: Page<SecurityEvent>,
      taken: number,
    ): Promise<string | null | undefined> => {
      if (from === null) return null;
      if (taken === 0) return page.data.length === 0 ? null : from;
      if (taken === page.data.length) return page.nextCursor;
      return (await read(ws, from, taken)).nextCursor;
    };
    const next: MergedCursor = {
      w: await resume(workspaceId, cursor.w, own, takenOwn),
      s: await resume(SYSTEM_WORKSPACE, cursor.s, system, takenSystem),
    };
    return { data: merged, nextCursor: next.w === null && next.s === null ? null : encode(next) };
  }

  /** Finds the event in the workspace or among the system-wide ones. */
  async get(workspaceId: string, id: string): Promise<SecurityEvent> {
    const repo = this.#store.securityEvents;
    const event = (await repo.get(workspaceId, id)) ?? (await repo.get(SYSTEM_WORKSPACE, id));
    if (!event) throw new RelayError('not_found', `security event ${id} not found`);
    return event;
  }

  /**
   * Marks the event resolved, with the admin-audit row in the same transaction.
   * Resolving an already resolved event changes nothing. A system-wide event may
   * be resolved by any workspace's admin: the audit row names who did it.
   */
  async resolve(actor: Actor, id: string): Promise<SecurityEvent> {
    const at = new Date(this.#clock.now()).toISOString();
    return this.#store.transaction(async (tx) => {
      const event =
        (await tx.securityEvents.get(actor.workspaceId, id)) ??
        (await tx.securityEvents.get(SYSTEM_WORKSPACE, id));
      if (!event) throw new RelayError('not_found', `security event ${id} not found`);
      if (event.status === 'resolved') return event;
      await tx.securityEvents.resolve(event.workspaceId, id, at, actor.actor);
      await recordAdminAction(tx, this.#clock, actor, 'security_event.resolve', id, {
        kind: event.kind,
        severity: event.severity,
        scope: event.workspaceId === SYSTEM_WORKSPACE ? 'system' : 'workspace',
      });
      return { ...event, status: 'resolved' as const, resolvedAt: at, resolvedBy: actor.actor };
    });
  }

  /** Every unresolved critical event of the workspace, whenever raised (lifting a lockdown needs none). */
  async openCritical(workspaceId: string): Promise<readonly SecurityEvent[]> {
    const out: SecurityEvent[] = [];
    let cursor: string | undefined;
    // Bounded: a workspace with thousands of open events has bigger problems than this list.
    for (let page = 0; page < 20; page++) {
      const result = await this.#store.securityEvents.list(workspaceId, {
        status: 'open',
        limit: 200,
        ...(cursor === undefined ? {} : { cursor }),
      });
      out.push(...result.data.filter((e) => e.severity === 'critical'));
      if (result.nextCursor === null) break;
      cursor = result.nextCursor;
    }
    return out;
  }
}
