import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { registerProcessMetrics } from '../adapters/metrics/process.ts';
import { CONTENT_TYPE, type Counter, type Histogram, Registry } from '../adapters/metrics/prometheus.ts';
import type { AuditSink } from '../ports/audit-sink.ts';
import { PROXY_REQUEST_CHANNEL, type ProxyRequestMessage } from './metrics-channels.ts';
import type { SecurityEventService } from './security-events.ts';

/** Relay's own time: from under a millisecond (cache hits) to slow store reads. */
const RELAY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];
/** Upstream time to response headers: network round trips up to the upstream timeout. */
const UPSTREAM_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export const METRICS_CONTENT_TYPE = CONTENT_TYPE;

const STATUS_TEXT = Array.from({ length: 600 }, (_, i) => String(i));

/** An HTTP status as a label value, without a new string per request. */
function statusText(status: number): string {
  return STATUS_TEXT[status] ?? String(status);
}

/**
 * The metrics of one Relay (SPEC §12), served as Prometheus text at `/metrics`
 * on the management listener. Proxy figures come from the
 * `relay:proxy:request` diagnostics channel, counted only for the proxies this
 * Relay watches (`watchProxy`); security events from the event service;
 * process figures and the audit queue depth are read at scrape time.
 *
 * Latency is split in two: upstream time (request sent to response headers
 * received) and Relay's own time (the rest of the request's duration: checks,
 * lookups, queueing, and streaming the body to the client).
 */
export class RelayMetrics {
  readonly #registry = new Registry();
  readonly #sinks = new Set<AuditSink>();
  readonly #requests: Counter;
  readonly #relayTime: Histogram;
  readonly #upstreamTime: Histogram;
  readonly #unsubscribeEvents: () => void;
  readonly #process: { close(): void };

  /**
   * Label sets reused for every request (this runs once per proxied request): a
   * metric reads them at once and copies the values of a series it creates.
   */
  readonly #requestLabels = { decision: '', code: '', reason: '', connection: '' };
  readonly #decisionLabels = { decision: '' };
  readonly #connectionLabels = { connection: '' };

  readonly #onRequest = (message: unknown): void => {
    const { record, sink } = message as ProxyRequestMessage;
    if (!this.#sinks.has(sink)) return;
    const connection = record.connectionId ?? '';
    const labels = this.#requestLabels;
    labels.decision = record.decision;
    labels.code = statusText(record.status);
    labels.reason = record.reason ?? 'none';
    labels.connection = connection;
    this.#requests.inc(labels);
    const upstreamMs = record.upstreamMs ?? 0;
    this.#decisionLabels.decision = record.decision;
    this.#relayTime.observe(Math.max(0, record.durationMs - upstreamMs) / 1000, this.#decisionLabels);
    if (record.upstreamMs !== null) {
      this.#connectionLabels.connection = connection;
      this.#upstreamTime.observe(record.upstreamMs / 1000, this.#connectionLabels);
    }
  };

  constructor(deps: { readonly securityEvents: SecurityEventService }) {
    const registry = this.#registry;
    this.#requests = registry.counter(
      'relay_proxy_requests_total',
      "Proxied requests by decision (allowed, blocked), HTTP status code, Relay's reason code (none when the upstream answered) and connection.",
      ['decision', 'code', 'reason', 'connection'],
    );
    this.#relayTime = registry.histogram(
      'relay_proxy_relay_duration_seconds',
      "Relay's own time per proxied request: the whole duration minus the upstream time.",
      ['decision'],
      RELAY_BUCKETS,
    );
    this.#upstreamTime = registry.histogram(
      'relay_proxy_upstream_duration_seconds',
      'Upstream time per forwarded request: from sending it to receiving the response headers.',
      ['connection'],
      UPSTREAM_BUCKETS,
    );
    const backlog = registry.gauge(
      'relay_audit_queue_depth',
      'Audit records the proxy has queued but not yet written (the proxy refuses requests above RELAY_AUDIT_MAX_BACKLOG).',
    );
    registry.onCollect(() => {
      let depth = 0;
      for (const sink of this.#sinks) depth += sink.backlog;
      backlog.set(depth);
    });
    const events = registry.counter(
      'relay_security_events_total',
      'Security events raised, by kind and severity.',
      ['kind', 'severity'],
    );
    this.#unsubscribeEvents = deps.securityEvents.onRaised((event) => {
      events.inc({ kind: event.kind, severity: event.severity });
    });
    this.#process = registerProcessMetrics(registry);
    subscribe(PROXY_REQUEST_CHANNEL, this.#onRequest);
  }

  /** Counts the requests of the proxy whose audit sink this is, and reports its queue depth. */
  watchProxy(sink: AuditSink): void {
    this.#sinks.add(sink);
  }

  render(): string {
    return this.#registry.render();
  }

  close(): void {
    unsubscribe(PROXY_REQUEST_CHANNEL, this.#onRequest);
    this.#unsubscribeEvents();
    this.#process.close();
    this.#sinks.clear();
  }
}
