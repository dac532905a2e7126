import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Registry } from './prometheus.ts';

/**
 * Process metrics, read at scrape time: memory, CPU, uptime and event-loop
 * delay (the lag every request waits behind). Delay figures cover the time
 * since the previous scrape.
 */
export function registerProcessMetrics(registry: Registry): { close(): void } {
  const rss = registry.gauge('process_resident_memory_bytes', 'Resident memory size in bytes.');
  const heap = registry.gauge('nodejs_heap_used_bytes', 'V8 heap in use, in bytes.');
  const cpu = registry.counter('process_cpu_seconds_total', 'User and system CPU time spent, in seconds.');
  const start = registry.gauge(
    'process_start_time_seconds',
    'Start time of the process since the Unix epoch.',
  );
  const lag = registry.gauge(
    'nodejs_eventloop_lag_seconds',
    'Event-loop delay since the previous scrape, by statistic (mean, p50, p99, max).',
    ['stat'],
  );
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const startedAt = (Date.now() - process.uptime() * 1000) / 1000;
  registry.onCollect(() => {
    const memory = process.memoryUsage();
    rss.set(memory.rss);
    heap.set(memory.heapUsed);
    const usage = process.cpuUsage();
    cpu.setTotal((usage.user + usage.system) / 1e6);
    start.set(Math.round(startedAt));
    const seconds = (ns: number) => (Number.isFinite(ns) ? ns / 1e9 : 0);
    lag.set(seconds(delay.count === 0 ? 0 : delay.mean), { stat: 'mean' });
    lag.set(seconds(delay.count === 0 ? 0 : delay.percentile(50)), { stat: 'p50' });
    lag.set(seconds(delay.count === 0 ? 0 : delay.percentile(99)), { stat: 'p99' });
    lag.set(seconds(delay.count === 0 ? 0 : delay.max), { stat: 'max' });
    delay.reset();
  });
  return { close: () => delay.disable() };
}
