import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { Bus } from '../ports/bus.ts';
import type { Mailer } from '../ports/mailer.ts';
import type { RateLimiter } from '../ports/rate-limiter.ts';
import type { Resolver } from '../ports/resolver.ts';
import type { Store } from '../ports/store.ts';
import { LeakReportService } from './leak-reports.ts';
import { FileKeySource, noKeySource } from './leak-reports-keys.ts';
import { LockdownService } from './lockdown.ts';
import { SecurityAlerts } from './security-alerts.ts';
import { CanaryTrap } from './security-alerts-canary.ts';
import { SecurityEventInbox } from './security-alerts-inbox.ts';
import { WebhookSender } from './security-alerts-webhook.ts';
import type { SecurityEventService } from './security-events.ts';

/** A webhook delivery gets this long, connect to last byte. */
export const WEBHOOK_TIMEOUT_MS = 5_000;

export interface SecurityResponseDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly bus: Bus;
  readonly logger: Logger;
  readonly mailer: Mailer;
  readonly resolver: Resolver;
  readonly limiter: RateLimiter;
  readonly securityEvents: SecurityEventService;
  readonly allowPrivate: boolean;
  /** RELAY_LEAK_REPORT_KEYS_FILE; empty: leak reports are refused. */
  readonly leakReportKeysFile: string;
  readonly userAgent: string;
}

/** Everything that reacts to security events (SPEC §8), built together in `app.ts`. */
export interface SecurityResponse {
  readonly inbox: SecurityEventInbox;
  readonly alerts: SecurityAlerts;
  readonly lockdown: LockdownService;
  readonly canaries: CanaryTrap;
  readonly leakReports: LeakReportService;
  /** Resolves once every event, lockdown and notification under way has finished. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

export function buildSecurityResponse(deps: SecurityResponseDeps): SecurityResponse {
  const { store, clock, bus, logger, mailer, securityEvents } = deps;
  const raise = (event: Parameters<SecurityEventService['raise']>[0]) => securityEvents.raise(event);
  const webhook = new WebhookSender({
    allowPrivate: deps.allowPrivate,
    resolver: deps.resolver,
    timeoutMs: WEBHOOK_TIMEOUT_MS,
    userAgent: deps.userAgent,
  });
  const inbox = new SecurityEventInbox(store, clock);
  const alerts = new SecurityAlerts({ store, clock, bus, logger, mailer, webhook, securityEvents });
  const lockdown = new LockdownService({ store, clock, bus, logger, securityEvents, inbox, alerts });
  const canaries = new CanaryTrap({ limiter: deps.limiter, clock, logger, raise });
  const keys =
    deps.leakReportKeysFile === '' ? noKeySource : new FileKeySource(deps.leakReportKeysFile, logger);
  const leakReports = new LeakReportService({ store, clock, bus, logger, keys, raise });
  const drain = async () => {
    // Canary events lead to lockdowns, lockdowns to notifications: drain in that order.
    await canaries.drain();
    await lockdown.drain();
    await alerts.drain();
  };
  return {
    inbox,
    alerts,
    lockdown,
    canaries,
    leakReports,
    drain,
    async close() {
      await drain();
      lockdown.close();
      alerts.close();
      await webhook.close();
    },
  };
}
