import { UsageError } from './errors.ts';
import type { Output, TextSink } from './output.ts';

/**
 * The shape every command has: its options (with help text), how many
 * positional arguments it takes, and `run`. `main.ts` parses the command line
 * with `node:util` parseArgs from these specs and prints help from them.
 */

export type Env = Readonly<Record<string, string | undefined>>;

export interface CliIo {
  readonly stdout: TextSink & NodeJS.WritableStream;
  readonly stderr: TextSink;
  readonly stdin: NodeJS.ReadableStream & { readonly isTTY?: boolean };
  /** Where configuration is read from (`loadConfig`); `process.env` unless a test passes its own. */
  readonly env: Env;
}

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
  readonly short?: string;
  /** Placeholder shown in help, e.g. `URL`. */
  readonly value?: string;
  readonly help: string;
  /** Accepted by the parser (so it can be refused with a clear message) but not listed in help. */
  readonly hidden?: boolean;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

export interface CommandContext {
  readonly io: CliIo;
  readonly out: Output;
  readonly flags: Flags;
  readonly args: readonly string[];
}

export interface CommandSpec {
  /** Sub-command name; empty for a group that is itself the command (`relay init`). */
  readonly name: string;
  readonly summary: string;
  /** Positional arguments, as shown in usage (e.g. `['ID']`); exactly these are required. */
  readonly args?: readonly string[];
  readonly options: OptionSpecs;
  /** Extra paragraphs for `--help`. */
  readonly notes?: string;
  run(ctx: CommandContext): Promise<number>;
}

export interface GroupSpec {
  readonly name: string;
  readonly summary: string;
  readonly commands: readonly CommandSpec[];
}

type FlagValue = string | boolean | ReadonlyArray<string | boolean> | undefined;

/** Typed access to parsed option values. */
export class Flags {
  readonly #values: Readonly<Record<string, FlagValue>>;

  constructor(values: Readonly<Record<string, FlagValue>>) {
    this.#values = values;
  }

  has(name: string): boolean {
    return this.#values[name] !== undefined;
  }

  string(name: string): string | undefined {
    const value = this.#values[name];
    return typeof value === 'string' ? value : undefined;
  }

  required(name: string): string {
    const value = this.string(name);
    if (value === undefined || value.trim() === '') throw new UsageError(`--${name} is required`);
    return value;
  }

  list(name: string): string[] {
    const value = this.#values[name];
    if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
    return typeof value === 'string' ? [value] : [];
  }

  bool(name: string): boolean | undefined {
    const value = this.#values[name];
    return typeof value === 'boolean' ? value : undefined;
  }

  /** A string option that must be one of `allowed`. */
  oneOf<T extends string>(name: string, allowed: readonly T[]): T | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(value))
      throw new UsageError(`--${name} must be one of ${allowed.join(', ')}`);
    return value as T;
  }
}

export const JSON_OPTION: OptionSpecs = {
  json: { type: 'boolean', help: 'Print JSON (stable, for scripts) instead of text.' },
};

export const DATA_DIR_OPTION: OptionSpecs = {
  'data-dir': { type: 'string', value: 'DIR', help: 'Data directory (overrides RELAY_DATA_DIR).' },
};

/** Options shared by commands that act on an install's workspace. */
export const OPERATOR_OPTIONS: OptionSpecs = {
  ...DATA_DIR_OPTION,
  workspace: {
    type: 'string',
    value: 'ID',
    help: 'Workspace to act on (default: the first one, created by relay init).',
  },
  ...JSON_OPTION,
};
