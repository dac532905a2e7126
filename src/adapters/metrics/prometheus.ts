/**
 * A small Prometheus registry: counters, gauges and histograms with labels,
 * rendered in the text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/). No dependency.
 *
 * Label values can come from requests (a connection id in a path), so each
 * metric holds at most `maxSeries` label sets; further ones are counted under
 * the value `_other` rather than growing memory without bound.
 */

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
const OVERFLOW = '_other';
const DEFAULT_MAX_SERIES = 1000;

type Labels = Readonly<Record<string, string>>;

/** Label values: backslash, double quote and line feed escaped (the format's rule). */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text: backslash and line feed escaped. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return '+Inf';
  if (n === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(n);
}

function labelText(names: readonly string[], values: readonly string[], extra = ''): string {
  const parts = names.map((name, i) => `${name}="${escapeLabel(values[i] ?? '')}"`);
  if (extra !== '') parts.push(extra);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

abstract class Metric<S> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly #maxSeries: number;
  protected readonly series = new Map<string, { values: readonly string[]; state: S }>();

  constructor(name: string, help: string, labelNames: readonly string[], maxSeries: number) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
    this.#maxSeries = maxSeries;
  }

  protected abstract fresh(): S;
  abstract readonly type: string;
  protected abstract renderSeries(values: readonly string[], state: S): string[];

  /** The label values and state of the series last asked for: consecutive requests mostly repeat them. */
  readonly #lastValues: string[] = [];
  #lastState: S | undefined;

  protected stateFor(labels: Labels): S {
    const names = this.labelNames;
    const lastValues = this.#lastValues;
    if (this.#lastState !== undefined) {
      let i = 0;
      while (i < names.length && (labels[names[i] as string] ?? '') === lastValues[i]) i++;
      if (i === names.length) return this.#lastState;
    }
    const state = this.#lookup(labels);
    for (let i = 0; i < names.length; i++) lastValues[i] = labels[names[i] as string] ?? '';
    this.#lastState = state;
    return state;
  }

  #lookup(labels: Labels): S {
    // Runs for every proxied request whose labels differ from the last: the key is built
    // without intermediate arrays.
    const names = this.labelNames;
    let key = '';
    for (let i = 0; i < names.length; i++)
      key += `${i === 0 ? '' : '\u0000'}${labels[names[i] as string] ?? ''}`;
    let entry = this.series.get(key);
    if (entry === undefined) {
      let values = names.map((n) => labels[n] ?? '');
      if (this.series.size >= this.#maxSeries) {
        values = this.labelNames.map(() => OVERFLOW);
        key = values.join('\u0000');
        entry = this.series.get(key);
      }
      if (entry === undefined) {
        entry = { values, state: this.fresh() };
        this.series.set(key, entry);
      }
    }
    return entry.state;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    for (const { values, state } of this.series.values()) lines.push(...this.renderSeries(values, state));
    return lines.join('\n');
  }
}

export class Counter extends Metric<{ value: number }> {
  readonly type = 'counter';
  protected fresh() {
    return { value: 0 };
  }
  inc(labels: Labels = {}, by = 1): void {
    if (by < 0) return;
    this.stateFor(labels).value += by;
  }
  /** For totals kept elsewhere (CPU time read from the process): a counter never goes down. */
  setTotal(value: number, labels: Labels = {}): void {
    const state = this.stateFor(labels);
    if (value > state.value) state.value = value;
  }
  protected renderSeries(values: readonly string[], state: { value: number }): string[] {
    return [`${this.name}${labelText(this.labelNames, values)} ${formatValue(state.value)}`];
  }
}

export class Gauge extends Metric<{ value: number }> {
  readonly type = 'gauge';
  protected fresh() {
    return { value: 0 };
  }
  set(value: number, labels: Labels = {}): void {
    this.stateFor(labels).value = value;
  }
  protected renderSeries(values: readonly string[], state: { value: number }): string[] {
    return [`${this.name}${labelText(this.labelNames, values)} ${formatValue(state.value)}`];
  }
}

interface HistogramState {
  readonly counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Metric<HistogramState> {
  readonly type = 'histogram';
  readonly buckets: readonly number[];

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: readonly number[],
    maxSeries: number,
  ) {
    super(name, help, labelNames, maxSeries);
    this.buckets = [...buckets].sort((a, b) => a - b);
  }

  protected fresh(): HistogramState {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }

  observe(value: number, labels: Labels = {}): void {
    if (!Number.isFinite(value)) return;
    const state = this.stateFor(labels);
    // Counts per bucket here; made cumulative when rendered.
    const i = this.buckets.findIndex((upper) => value <= upper);
    if (i !== -1) state.counts[i] = (state.counts[i] ?? 0) + 1;
    state.sum += value;
    state.count += 1;
  }

  protected renderSeries(values: readonly string[], state: HistogramState): string[] {
    const lines: string[] = [];
    let cumulative = 0;
    for (const [i, upper] of this.buckets.entries()) {
      cumulative += state.counts[i] ?? 0;
      lines.push(
        `${this.name}_bucket${labelText(this.labelNames, values, `le="${formatValue(upper)}"`)} ${cumulative}`,
      );
    }
    lines.push(`${this.name}_bucket${labelText(this.labelNames, values, 'le="+Inf"')} ${state.count}`);
    lines.push(`${this.name}_sum${labelText(this.labelNames, values)} ${formatValue(state.sum)}`);
    lines.push(`${this.name}_count${labelText(this.labelNames, values)} ${state.count}`);
    return lines;
  }
}

export class Registry {
  readonly #metrics: Array<Counter | Gauge | Histogram> = [];
  readonly #collectors: Array<() => void> = [];
  readonly #maxSeries: number;

  constructor(options: { maxSeries?: number } = {}) {
    this.#maxSeries = options.maxSeries ?? DEFAULT_MAX_SERIES;
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#add(new Counter(name, help, labelNames, this.#maxSeries));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.#add(new Gauge(name, help, labelNames, this.#maxSeries));
  }

  histogram(
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: readonly number[],
  ): Histogram {
    return this.#add(new Histogram(name, help, labelNames, buckets, this.#maxSeries));
  }

  /** Runs before every render: for values read at scrape time (memory, queue depth). */
  onCollect(collect: () => void): void {
    this.#collectors.push(collect);
  }

  #add<M extends Counter | Gauge | Histogram>(metric: M): M {
    if (this.#metrics.some((m) => m.name === metric.name)) throw new Error(`metric ${metric.name} exists`);
    this.#metrics.push(metric);
    return metric;
  }

  render(): string {
    for (const collect of this.#collectors) collect();
    return `${this.#metrics.map((m) => m.render()).join('\n')}\n`;
  }
}
