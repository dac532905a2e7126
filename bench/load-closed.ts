import { Pool } from 'undici';
import type { LoadResult, LoadSpec } from './protocol.ts';
import { send } from './send.ts';
import { LatencyRecorder } from './stats.ts';
import { Tally } from './tally.ts';

/** Highest request rate whose latencies are all kept; beyond it they are counted only. */
const MAX_RECORDED_RATE = 100_000;
const DRAIN_MS = 5_000;
const RETRY_AFTER_ERROR_MS = 10;

/**
 * Saturation: a closed loop of `connections` keep-alive connections, each sending
 * its next request as soon as the previous answer ends. Throughput is the
 * responses completed inside the measured window divided by its wall time.
 */
export function runClosedLoop(
  spec: LoadSpec,
  onWindow: (edge: 'start' | 'end') => void,
): Promise<LoadResult> {
  const pool = new Pool(spec.origin, {
    connections: spec.connections,
    pipelining: 1,
    keepAliveTimeout: 120_000,
    keepAliveMaxTimeout: 600_000,
  });
  const options = { path: spec.path, method: 'GET', headers: { ...spec.headers } } as const;
  const tally = new Tally();
  const latency = new LatencyRecorder((MAX_RECORDED_RATE * spec.measureMs) / 1000);
  let measuring = false;
  let stopped = false;
  let inFlight = 0;
  let measured = 0;
  let windowStart = 0;
  let windowEnd = 0;

  return new Promise((resolve) => {
    let drainTimer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(drainTimer);
      void pool.destroy();
      const windowMs = windowEnd - windowStart;
      resolve({
        mode: 'closed',
        windowMs,
        measured,
        requestsPerSecond: windowMs > 0 ? (measured * 1000) / windowMs : 0,
        latency: latency.summary(),
        serviceLatency: null,
        sendLag: null,
        sent: tally.sent,
        answered: tally.answered,
        statuses: tally.statuses,
        errors: tally.errors,
        firstError: tally.firstError,
        incomplete: inFlight,
      });
    };

    const fire = (): void => {
      if (stopped) return;
      const startedAt = performance.now();
      inFlight++;
      tally.sent++;
      send(pool, options, (statusCode, error) => {
        inFlight--;
        tally.add(statusCode, error);
        if (measuring) {
          measured++;
          latency.record(performance.now() - startedAt);
        }
        if (stopped) {
          if (inFlight === 0) finish();
        } else if (error !== null) {
          setTimeout(fire, RETRY_AFTER_ERROR_MS);
        } else {
          fire();
        }
      });
    };

    setTimeout(() => {
      measuring = true;
      windowStart = performance.now();
      onWindow('start');
    }, spec.warmupMs);
    setTimeout(() => {
      measuring = false;
      stopped = true;
      windowEnd = performance.now();
      onWindow('end');
      if (inFlight === 0) finish();
      else drainTimer = setTimeout(finish, DRAIN_MS);
    }, spec.warmupMs + spec.measureMs);
    for (let i = 0; i < spec.connections; i++) fire();
  });
}
