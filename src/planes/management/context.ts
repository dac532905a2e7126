import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.ts';
import type { Actor, ManagementToken } from '../../core/model.ts';
import type { Services } from '../../services/index.ts';
import type { IpConfirmationService } from '../../services/ip-confirmation.ts';
import type { LeakReportService } from '../../services/leak-reports.ts';
import type { LockdownService } from '../../services/lockdown.ts';
import type { RelayMetrics } from '../../services/metrics.ts';
import type { SecurityAlerts } from '../../services/security-alerts.ts';
import type { SecurityEventInbox } from '../../services/security-alerts-inbox.ts';
import type { AuthFailureGuard } from '../proxy/policy.ts';

/**
 * Who may call a route: anyone (`public`), viewers and admins (`read`), admins
 * only (`admin`), or admins and provisioners (`provision`, for minting within bounds).
 */
export type Access = 'public' | 'read' | 'admin' | 'provision';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifySchema {
    tags?: readonly string[];
    summary?: string;
  }
  interface FastifyRequest {
    principal?: ManagementToken;
  }
}

export interface ManagementContext {
  readonly services: Services;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly proxyBaseUrl: string;
  /** Where people reach this API from outside (share links point here). */
  readonly publicApiUrl: string;
  readonly bodyLimit: number;
  readonly version: string;
  /** New-IP confirmation (confirm page, trusted IPs). Optional so that API-only test builds need not wire it; its routes answer 503 without it. */
  readonly ipConfirmations?: IpConfirmationService;
  /** Security events, alerting, lockdown and leak reports (SPEC §8). Optional likewise: their routes answer 503 without it. */
  readonly security?: SecurityContext;
  /** `GET /metrics`: the Relay's metrics and RELAY_METRICS_TOKEN (empty: management tokens only). */
  readonly metrics?: { readonly registry: RelayMetrics; readonly token: string };
  /**
   * The brute-force throttle shared with the proxy (RELAY_BRUTE_FORCE_*): failed
   * authentication counts against the caller's address, and a blocked address is
   * refused (429) before any token is looked up. Absent: not throttled (API-only test builds).
   */
  readonly authGuard?: AuthFailureGuard;
}

export interface SecurityContext {
  readonly inbox: SecurityEventInbox;
  readonly alerts: SecurityAlerts;
  readonly lockdown: LockdownService;
  readonly leakReports: LeakReportService;
}

export function actorOf(request: { principal?: ManagementToken; ip: string }): Actor {
  const principal = request.principal;
  if (!principal) throw new Error('route reached without an authenticated principal');
  return { workspaceId: principal.workspaceId, actor: principal.id, ip: request.ip };
}

export function workspaceOf(request: { principal?: ManagementToken }): string {
  if (!request.principal) throw new Error('route reached without an authenticated principal');
  return request.principal.workspaceId;
}
