import { Pool } from 'undici';
import type { LoadResult, LoadSpec } from './protocol.ts';
import { send } from './send.ts';
import { LatencyRecorder } from './stats.ts';
import { Tally } from './tally.ts';

const DRAIN_MS = 5_000;
/** Node timers have a 1 ms resolution; sends are also pumped after every response. */
const TICK_MS = 1;

/**
 * Latency at a fixed rate: an open loop that sends request i at `start + i / rate`
 * whatever happened to the earlier ones, and measures each latency from that
 * scheduled time, so a stall is charged to every request it delayed (no
 * coordinated omission). Only requests scheduled inside the window are recorded.
 */
export function runOpenLoop(spec: LoadSpec, onWindow: (edge: 'start' | 'end') => void): Promise<LoadResult> {
  const pool = new Pool(spec.origin, {
    connections: spec.connections,
    pipelining: 1,
    keepAliveTimeout: 120_000,
    keepAliveMaxTimeout: 600_000,
  });
  const options = { path: spec.path, method: 'GET', headers: { ...spec.headers } } as const;
  const interval = 1000 / spec.rate;
  const capacity = Math.ceil((spec.rate * spec.measureMs) / 1000) + 1;
  const latency = new LatencyRecorder(capacity);
  const service = new LatencyRecorder(capacity);
  const lag = new LatencyRecorder(capacity);
  const tally = new Tally();
  const start = performance.now();
  const measureFrom = start + spec.warmupMs;
  const measureTo = measureFrom + spec.measureMs;
  let next = start;
  let inFlight = 0;
  let measured = 0;

  return new Promise((resolve) => {
    let drainTimer: NodeJS.Timeout | undefined;
    let done = false;
    let windowEnded = false;
    const scheduleOver = (): boolean => next >= measureTo;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearInterval(ticker);
      clearTimeout(drainTimer);
      void pool.destroy();
      resolve({
        mode: 'open',
        windowMs: spec.measureMs,
        measured,
        requestsPerSecond: (measured * 1000) / spec.measureMs,
        latency: latency.summary(),
        serviceLatency: service.summary(),
        sendLag: lag.summary(),
        sent: tally.sent,
        answered: tally.answered,
        statuses: tally.statuses,
        errors: tally.errors,
        firstError: tally.firstError,
        incomplete: inFlight,
      });
    };

    const sendScheduled = (scheduled: number, sentAt: number): void => {
      const inWindow = scheduled >= measureFrom;
      if (inWindow) lag.record(sentAt - scheduled);
      inFlight++;
      tally.sent++;
      send(pool, options, (statusCode, error) => {
        const endedAt = performance.now();
        inFlight--;
        tally.add(statusCode, error);
        if (inWindow) {
          measured++;
          latency.record(endedAt - scheduled);
          service.record(endedAt - sentAt);
        }
        if (scheduleOver()) {
          if (windowEnded && inFlight === 0) finish();
        } else {
          pump();
        }
      });
    };

    const pump = (): void => {
      const now = performance.now();
      while (next <= now && !scheduleOver()) {
        sendScheduled(next, now);
        next += interval;
      }
      if (scheduleOver()) clearInterval(ticker);
    };

    const ticker = setInterval(pump, TICK_MS);
    setTimeout(() => onWindow('start'), spec.warmupMs);
    setTimeout(
      () => {
        windowEnded = true;
        onWindow('end');
        pump();
        if (inFlight === 0) finish();
        else drainTimer = setTimeout(finish, DRAIN_MS);
      },
      Math.max(0, measureTo - performance.now()),
    );
    pump();
  });
}
