import { readFileSync, statSync } from 'node:fs';
import type { Logger } from 'pino';
import { type LeakReportKey, parseKeyList } from '../core/leak-report.ts';

/** Where leak-report verification keys come from; a file today, GitHub's key endpoint could be another. */
export interface LeakReportKeySource {
  /** The current keys by identifier; undefined when leak reports are not configured. */
  keys(): ReadonlyMap<string, LeakReportKey> | undefined;
}

export class LeakReportKeysError extends Error {
  override name = 'LeakReportKeysError';
}

/**
 * RELAY_LEAK_REPORT_KEYS_FILE: a JSON file in GitHub's key-list format. Read at
 * start (a bad file stops start-up), then again whenever its modification time
 * changes, so an operator can add GitHub's next key without a restart. A file
 * that turns bad later is logged and the last good keys stay in use. No network
 * fetch: the operator decides which keys to trust.
 */
export class FileKeySource implements LeakReportKeySource {
  readonly #path: string;
  readonly #logger: Logger;
  #keys: ReadonlyMap<string, LeakReportKey>;
  #mtimeMs: number;

  constructor(path: string, logger: Logger) {
    this.#path = path;
    this.#logger = logger;
    const { keys, mtimeMs } = this.#read();
    this.#keys = keys;
    this.#mtimeMs = mtimeMs;
  }

  #read(): { keys: ReadonlyMap<string, LeakReportKey>; mtimeMs: number } {
    let text: string;
    let mtimeMs: number;
    try {
      mtimeMs = statSync(this.#path).mtimeMs;
      text = readFileSync(this.#path, 'utf8');
    } catch (error) {
      throw new LeakReportKeysError(
        `cannot read RELAY_LEAK_REPORT_KEYS_FILE ${this.#path}: ${(error as Error).message}`,
      );
    }
    const parsed = parseKeyList(text);
    if (!parsed.ok)
      throw new LeakReportKeysError(`RELAY_LEAK_REPORT_KEYS_FILE ${this.#path}: ${parsed.error.detail}`);
    return { keys: parsed.value, mtimeMs };
  }

  keys(): ReadonlyMap<string, LeakReportKey> {
    let mtimeMs: number;
    try {
      mtimeMs = statSync(this.#path).mtimeMs;
    } catch {
      return this.#keys;
    }
    if (mtimeMs !== this.#mtimeMs) {
      try {
        const fresh = this.#read();
        this.#keys = fresh.keys;
        this.#mtimeMs = fresh.mtimeMs;
        this.#logger.info({ keys: [...fresh.keys.keys()] }, 'leak-report verification keys reloaded');
      } catch (error) {
        this.#mtimeMs = mtimeMs;
        this.#logger.warn({ err: { message: (error as Error).message } }, 'leak-report keys file unusable');
      }
    }
    return this.#keys;
  }
}

export const noKeySource: LeakReportKeySource = { keys: () => undefined };
