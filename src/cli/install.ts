import { existsSync } from 'node:fs';
import { sqlitePathOf as sqlitePathFor } from '../adapters/db/open-store.ts';
import { defaultWorkspaceId, openRelay, type Relay, SetupError } from '../app.ts';
import { loadConfig, type RelayConfig } from '../config.ts';
import { RelayError } from '../core/errors.ts';
import type { Actor } from '../core/model.ts';
import { createLogger } from '../logger.ts';
import type { ListOptions, Page } from '../ports/store.ts';
import type { CommandContext, Env, Flags } from './command.ts';

/**
 * Opening an install from the CLI. Only `init` and `start` may create anything;
 * every other command checks first that the data dir and database exist, so a
 * mistyped RELAY_DATA_DIR never leaves an empty database behind.
 */

export function cliConfig(env: Env, flags: Flags): RelayConfig {
  const dataDir = flags.string('data-dir');
  return loadConfig(dataDir === undefined ? env : { ...env, RELAY_DATA_DIR: dataDir });
}

/** The SQLite file the config points at, or undefined for PostgreSQL. */
export function sqlitePathOf(config: RelayConfig): string | undefined {
  return sqlitePathFor(config.databaseUrl, config.dataDir);
}

export function assertInstalled(config: RelayConfig): void {
  if (!existsSync(config.dataDir))
    throw new SetupError(`no Relay install at ${config.dataDir}: run "relay init" first`);
  const sqlite = sqlitePathOf(config);
  if (sqlite !== undefined && !existsSync(sqlite))
    throw new SetupError(`no Relay database at ${sqlite}: run "relay init" first`);
}

/** Opens an existing install (key verified, schema migrated); never creates one. */
export async function openExisting(config: RelayConfig): Promise<Relay> {
  assertInstalled(config);
  const { relay } = await openRelay(config, createLogger('silent'), { create: false });
  return relay;
}

export interface Operator {
  readonly relay: Relay;
  readonly config: RelayConfig;
  readonly workspaceId: string;
  readonly actor: Actor;
}

/** Runs `work` against the chosen workspace of an existing install, as actor `cli`, then closes it. */
export async function withOperator<T>(ctx: CommandContext, work: (op: Operator) => Promise<T>): Promise<T> {
  const config = cliConfig(ctx.io.env, ctx.flags);
  const relay = await openExisting(config);
  try {
    const requested = ctx.flags.string('workspace');
    let workspaceId: string;
    if (requested === undefined) workspaceId = await defaultWorkspaceId(relay);
    else {
      const found = await relay.services.workspaces.get(requested).catch((error: unknown) => {
        if (error instanceof RelayError && error.code === 'not_found')
          throw new RelayError('not_found', `workspace ${requested} not found`);
        throw error;
      });
      workspaceId = found.id;
    }
    return await work({ relay, config, workspaceId, actor: { workspaceId, actor: 'cli', ip: null } });
  } finally {
    await relay.close();
  }
}

/** Every row of a paged list. */
export async function allPages<T>(fetch: (options: ListOptions) => Promise<Page<T>>): Promise<T[]> {
  const rows: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await fetch(cursor === undefined ? { limit: 200 } : { limit: 200, cursor });
    rows.push(...page.data);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return rows;
}

/** The base URL callers reach the proxy at, as the management API computes it. */
