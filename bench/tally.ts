/** Counts of one load phase, warmup included: what was sent and how it was answered. */
export class Tally {
  sent = 0;
  answered = 0;
  errors = 0;
  firstError: string | null = null;
  readonly statuses: Record<string, number> = {};

  add(statusCode: number, error: Error | null): void {
    if (error !== null) {
      this.errors++;
      this.firstError ??= `${error.name}: ${error.message}`;
      return;
    }
    this.answered++;
    const key = String(statusCode);
    this.statuses[key] = (this.statuses[key] ?? 0) + 1;
  }
}
