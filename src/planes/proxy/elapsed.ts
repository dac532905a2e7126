import { performance } from 'node:perf_hooks';

/**
 * Milliseconds since `start` (a `performance.now()` reading), to the microsecond:
 * the precision the audit log records durations in, without the float noise of a
 * raw difference (`1.0391700000000128`), which would only cost bytes in every record.
 */
export function msSince(start: number): number {
  return Math.round((performance.now() - start) * 1000) / 1000;
}
