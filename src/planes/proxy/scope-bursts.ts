import type { Clock } from '../../core/clock.ts';
import type { SecurityEventService } from '../../services/security-events.ts';

/** Scope refusals by one credential within the window that count as a burst. */
export const SCOPE_BURST_THRESHOLD = 10;
export const SCOPE_BURST_WINDOW_MS = 60_000;
/** Credentials tracked at once; the oldest windows are dropped beyond this. */
const MAX_TRACKED = 10_000;

interface Window {
  start: number;
  count: number;
  raised: boolean;
}

/**
 * A credential that keeps probing outside its scope is a stolen or misused
 * token more often than a bug (SPEC §8): the tenth scope refusal within a
 * minute raises one `scope_violation_burst` event (high) for that window; the
 * refusals themselves are answered and audited as usual.
 */
export class ScopeBurstDetector {
  readonly #events: SecurityEventService;
  readonly #clock: Clock;
  readonly #windows = new Map<string, Window>();

  constructor(events: SecurityEventService, clock: Clock) {
    this.#events = events;
    this.#clock = clock;
  }

  refused(workspaceId: string, credentialId: string, ip: string, code: string): void {
    const now = this.#clock.now();
    let window = this.#windows.get(credentialId);
    if (window === undefined || now - window.start >= SCOPE_BURST_WINDOW_MS) {
      window = { start: now, count: 0, raised: false };
      this.#windows.delete(credentialId);
      this.#windows.set(credentialId, window);
      if (this.#windows.size > MAX_TRACKED) this.#windows.delete(this.#windows.keys().next().value as string);
    }
    window.count++;
    if (window.count >= SCOPE_BURST_THRESHOLD && !window.raised) {
      window.raised = true;
      void this.#events.raise({
        workspaceId,
        kind: 'scope_violation_burst',
        severity: 'high',
        subject: credentialId,
        detail: {
          refusals: window.count,
          window_seconds: SCOPE_BURST_WINDOW_MS / 1000,
          last_ip: ip,
          last_code: code,
        },
      });
    }
  }
}
