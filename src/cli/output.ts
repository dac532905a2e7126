/**
 * What commands print on stdout: pretty JSON for `--json` (stable, for scripts)
 * or aligned human text. Values are shown as given; callers pass the public
 * views from `planes/management/present.ts`, which hold no secret.
 */
export interface TextSink {
  write(chunk: string): unknown;
}

export type Column = readonly [key: string, header: string];

/** One table cell: null becomes `-`, lists are comma-joined, objects are JSON. */
export function cell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'string') return value === '' ? '-' : value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v !== 'object' || v === null)) {
    return value.length === 0 ? '-' : value.map(cell).join(', ');
  }
  return JSON.stringify(value);
}

export class Output {
  readonly #sink: TextSink;

  constructor(sink: TextSink) {
    this.#sink = sink;
  }

  line(text = ''): void {
    this.#sink.write(`${text}\n`);
  }

  json(value: unknown): void {
    this.#sink.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Aligned columns with a header row, or `empty` when there are no rows. */
  table(rows: readonly Readonly<Record<string, unknown>>[], columns: readonly Column[], empty: string): void {
    if (rows.length === 0) {
      this.line(empty);
      return;
    }
    const cells = rows.map((row) => columns.map(([key]) => cell(row[key])));
    const headers = columns.map(([, header]) => header);
    const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
    const format = (parts: readonly string[]) =>
      parts
        .map((p, i) => (i === parts.length - 1 ? p : p.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd();
    this.line(format(headers));
    for (const row of cells) this.line(format(row));
  }

  /** `key: value` lines for one object, keys aligned. */
  record(view: Readonly<Record<string, unknown>>): void {
    const keys = Object.keys(view);
    const width = Math.max(...keys.map((k) => k.length));
    for (const key of keys) this.line(`${`${key}:`.padEnd(width + 2)}${cell(view[key])}`);
  }
}
