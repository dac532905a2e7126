import type { AuditCount } from './audit-count.ts';
import type { TargetName } from './config.ts';
import { median, type TargetFigures } from './figures.ts';

/** The acceptance targets for Relay (docs/performance.md). */
export const TARGETS = { throughputVsMinimalPct: 85, addedP50Ms: 0.5, addedP99Ms: 2 } as const;

const LABELS: Record<TargetName, string> = { direct: 'direct', minimal: 'minimal proxy', relay: 'relay' };

export interface Ratios {
  readonly minimal_vs_direct_throughput_pct: number | null;
  readonly relay_vs_minimal_throughput_pct: number | null;
  readonly minimal_added_p50_ms: number | null;
  readonly minimal_added_p99_ms: number | null;
  readonly relay_added_p50_ms: number | null;
  readonly relay_added_p99_ms: number | null;
  readonly relay_vs_minimal_cpu: number | null;
}

type Figures = Partial<Record<TargetName, TargetFigures>>;

function ratio(a: number | null | undefined, b: number | null | undefined, scale = 1): number | null {
  return a == null || b == null || b === 0 ? null : (a / b) * scale;
}

function added(a: number | undefined, b: number | undefined): number | null {
  return a === undefined || b === undefined ? null : a - b;
}

export function ratios(figures: Figures): Ratios {
  const { direct, minimal, relay } = figures;
  return {
    minimal_vs_direct_throughput_pct: ratio(minimal?.requests_per_second, direct?.requests_per_second, 100),
    relay_vs_minimal_throughput_pct: ratio(relay?.requests_per_second, minimal?.requests_per_second, 100),
    minimal_added_p50_ms: added(minimal?.p50_ms, direct?.p50_ms),
    minimal_added_p99_ms: added(minimal?.p99_ms, direct?.p99_ms),
    relay_added_p50_ms: added(relay?.p50_ms, direct?.p50_ms),
    relay_added_p99_ms: added(relay?.p99_ms, direct?.p99_ms),
    relay_vs_minimal_cpu: ratio(relay?.proxy_cpu_us_per_request, minimal?.proxy_cpu_us_per_request),
  };
}

/**
 * With several rounds: each ratio is the median of the rounds' own ratios. The
 * targets of a round are measured back to back, so a machine whose speed drifts
 * between rounds (a shared host) moves both sides of a round's ratio together.
 */
export function medianRatios(perRound: Partial<Record<TargetName, readonly TargetFigures[]>>): Ratios {
  const rounds = Math.max(0, ...Object.values(perRound).map((list) => list?.length ?? 0));
  const each = Array.from({ length: rounds }, (_, i) =>
    ratios({ direct: perRound.direct?.[i], minimal: perRound.minimal?.[i], relay: perRound.relay?.[i] }),
  );
  const keys = Object.keys(ratios({})) as (keyof Ratios)[];
  return Object.fromEntries(
    keys.map((key) => {
      const values = each.map((r) => r[key]);
      const numbers = values.filter((value): value is number => value !== null);
      return [key, numbers.length === 0 || numbers.length < values.length ? null : median(numbers)];
    }),
  ) as unknown as Ratios;
}

const int = (value: number | null): string =>
  value === null ? '—' : Math.round(value).toLocaleString('en-US');
const ms = (value: number | null): string => (value === null ? '—' : `${value.toFixed(2)} ms`);
const plusMs = (value: number | null): string =>
  value === null ? '—' : `${value >= 0 ? '+' : ''}${value.toFixed(2)} ms`;
const pct = (value: number | null): string => (value === null ? '—' : `${value.toFixed(1)} %`);
const verdict = (pass: boolean | null): string => (pass === null ? '' : pass ? 'ok' : 'MISSED');

/** Pads cells into columns: the first `rightAligned` columns after the label are right-aligned, the rest left. */
function table(rows: readonly (readonly string[])[], rightAligned = Number.POSITIVE_INFINITY): string[] {
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows.map((row) =>
    row
      .map((cell, column) => {
        const width = widths[column] ?? 0;
        return column === 0 || column > rightAligned ? cell.padEnd(width) : cell.padStart(width);
      })
      .join('   ')
      .trimEnd(),
  );
}

export function resultTable(
  order: readonly TargetName[],
  figures: Figures,
  rate: number,
  notes: Record<string, string>,
): string[] {
  const header = [
    'target',
    'req/s @sat',
    `p50 @${rate}/s`,
    `p99 @${rate}/s`,
    'proxy CPU µs/req @sat',
    `@${rate}/s`,
    'proxy cores @sat',
    'not 2xx/failed',
  ];
  const rows: string[][] = [header];
  const lines: string[] = [];
  for (const name of order) {
    const f = figures[name];
    if (f === undefined) continue;
    rows.push([
      LABELS[name],
      int(f.requests_per_second),
      ms(f.p50_ms),
      ms(f.p99_ms),
      int(f.proxy_cpu_us_per_request),
      int(f.proxy_cpu_us_per_request_fixed_rate),
      f.proxy_cpu_cores_at_saturation === null ? '—' : f.proxy_cpu_cores_at_saturation.toFixed(2),
      String(f.non_2xx + f.errors + f.incomplete),
    ]);
  }
  lines.push(...table(rows));
  for (const name of order) {
    const note = notes[name];
    if (figures[name] === undefined && note !== undefined)
      lines.push(`${LABELS[name]}: not measured — ${note}`);
  }
  return lines;
}

/**
 * Where each proxy's CPU goes, by thread: its event loop, its worker threads
 * (Relay's audit writer), V8's helpers, the rest. Empty when no target has
 * the breakdown (not Linux).
 */
export function threadTable(order: readonly TargetName[], figures: Figures, rate: number): string[] {
  const rows: string[][] = [
    [
      'proxy CPU µs/req by thread',
      'main @sat',
      'workers',
      'V8 helpers',
      'other',
      `main @${rate}/s`,
      'workers',
      'V8 helpers',
      'other',
    ],
  ];
  for (const name of order) {
    const f = figures[name];
    if (f === undefined || f.proxy_main_cpu_us_per_request === null) continue;
    rows.push([
      LABELS[name],
      int(f.proxy_main_cpu_us_per_request),
      int(f.proxy_workers_cpu_us_per_request),
      int(f.proxy_v8_cpu_us_per_request),
      int(f.proxy_other_cpu_us_per_request),
      int(f.proxy_main_cpu_us_per_request_fixed_rate),
      int(f.proxy_workers_cpu_us_per_request_fixed_rate),
      int(f.proxy_v8_cpu_us_per_request_fixed_rate),
      int(f.proxy_other_cpu_us_per_request_fixed_rate),
    ]);
  }
  return rows.length === 1 ? [] : table(rows);
}

function auditLine(audit: AuditCount | null, answered: number | undefined): string {
  if (answered === undefined) return 'audit count: n/a (relay not measured)';
  if (audit === null || !audit.available)
    return `audit count: n/a${audit === null ? '' : ` (${audit.reason})`}`;
  const complete = audit.complete ? '' : ' (paging timed out)';
  return `audit count: ${int(audit.entries)} audited / ${int(answered)} answered${complete}   ${verdict(audit.entries >= answered)}`;
}

export function ratioLines(figures: Figures, r: Ratios, audit: AuditCount | null): string[] {
  const relayMeasured = figures.relay !== undefined;
  const check = (value: number | null, pass: (v: number) => boolean): string =>
    verdict(relayMeasured && value !== null ? pass(value) : null);
  const rows = [
    ['minimal / direct throughput', pct(r.minimal_vs_direct_throughput_pct), '', ''],
    [
      'relay / minimal throughput',
      pct(r.relay_vs_minimal_throughput_pct),
      `target ≥ ${TARGETS.throughputVsMinimalPct} %`,
      check(r.relay_vs_minimal_throughput_pct, (v) => v >= TARGETS.throughputVsMinimalPct),
    ],
    ['added p50 vs direct: minimal', plusMs(r.minimal_added_p50_ms), '', ''],
    [
      'added p50 vs direct: relay',
      plusMs(r.relay_added_p50_ms),
      `target ≤ ${TARGETS.addedP50Ms} ms`,
      check(r.relay_added_p50_ms, (v) => v <= TARGETS.addedP50Ms),
    ],
    ['added p99 vs direct: minimal', plusMs(r.minimal_added_p99_ms), '', ''],
    [
      'added p99 vs direct: relay',
      plusMs(r.relay_added_p99_ms),
      `target ≤ ${TARGETS.addedP99Ms} ms`,
      check(r.relay_added_p99_ms, (v) => v <= TARGETS.addedP99Ms),
    ],
    ['CPU µs/req @sat: minimal', int(figures.minimal?.proxy_cpu_us_per_request ?? null), '', ''],
    [
      'CPU µs/req @sat: relay',
      int(figures.relay?.proxy_cpu_us_per_request ?? null),
      r.relay_vs_minimal_cpu === null ? '' : `${r.relay_vs_minimal_cpu.toFixed(2)}× minimal`,
      '',
    ],
  ];
  return [...table(rows, 1), auditLine(audit, figures.relay?.answered)];
}
