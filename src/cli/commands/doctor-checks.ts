import { existsSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { openStore } from '../../adapters/db/open-store.ts';
import {
  keyringFromEnv,
  LocalKeyProvider,
  readKeyFile,
} from '../../adapters/local-key/local-key-provider.ts';
import type { RelayConfig } from '../../config.ts';
import { Vault } from '../../core/vault.ts';
import { verifyMasterKey } from '../../services/bootstrap.ts';
import { describeError } from '../errors.ts';
import { sqlitePathOf } from '../install.ts';

/**
 * The checks `relay doctor` runs. Each reports ok / warn / fail with one line
 * of detail; none prints a secret value (keys are named by their key id only).
 */
export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  readonly name: string;
  readonly status: CheckStatus;
  readonly detail: string;
}

const check = (name: string, status: CheckStatus, detail: string): Check => ({ name, status, detail });
const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8).padStart(4, '0');

export function dataDirCheck(config: RelayConfig): Check {
  const dir = config.dataDir;
  if (!existsSync(dir)) return check('data dir', 'fail', `${dir} does not exist: run "relay init"`);
  if (!statSync(dir).isDirectory()) return check('data dir', 'fail', `${dir} is not a directory`);
  if ((statSync(dir).mode & 0o077) !== 0) {
    return check(
      'data dir',
      'warn',
      `${dir} has mode ${modeOf(dir)}; group/others can reach it: chmod 700 ${dir}`,
    );
  }
  return check('data dir', 'ok', `${dir} (mode ${modeOf(dir)})`);
}

export function masterKeySourceCheck(config: RelayConfig): Check {
  if (config.masterKey !== '') {
    try {
      const ring = keyringFromEnv(config.masterKey);
      return check(
        'master key',
        'ok',
        `RELAY_MASTER_KEY: ${ring.keys.size} key(s), primary id ${ring.primary}`,
      );
    } catch (error) {
      return check('master key', 'fail', describeError(error));
    }
  }
  const path = config.masterKeyFile;
  if (!existsSync(path)) return check('master key', 'fail', `key file ${path} not found`);
  if ((statSync(path).mode & 0o077) !== 0) {
    return check('master key', 'fail', `key file ${path} has mode ${modeOf(path)}: run chmod 600 ${path}`);
  }
  try {
    const ring = readKeyFile(path);
    return check('master key', 'ok', `key file ${path} (mode ${modeOf(path)}), primary id ${ring.primary}`);
  } catch (error) {
    return check('master key', 'fail', describeError(error));
  }
}

/** Store reachable, migrations current, master key opens the database. Never creates a database. */
export async function storeChecks(config: RelayConfig): Promise<Check[]> {
  const sqlite = sqlitePathOf(config);
  if (sqlite !== undefined && !existsSync(sqlite)) {
    return [check('database', 'fail', `no database at ${sqlite}: run "relay init"`)];
  }
  let store: ReturnType<typeof openStore>;
  try {
    store = openStore(config.databaseUrl, config.dataDir);
  } catch (error) {
    return [check('database', 'fail', describeError(error))];
  }
  const checks: Check[] = [];
  try {
    if (!(await store.isInitialised())) {
      return [check('database', 'fail', `${store.dialect} reachable but empty: run "relay init"`)];
    }
    checks.push(check('database', 'ok', `${store.dialect} reachable`));
    const pending = await store.pendingMigrations();
    checks.push(
      pending.length === 0
        ? check('migrations', 'ok', 'up to date')
        : check('migrations', 'warn', `pending: ${pending.join(', ')} (run "relay migrate")`),
    );
    checks.push(await keyOpensCheck(config, store));
  } catch (error) {
    checks.push(check('database', 'fail', describeError(error)));
  } finally {
    await store.close().catch(() => {});
  }
  return checks;
}

async function keyOpensCheck(config: RelayConfig, store: ReturnType<typeof openStore>): Promise<Check> {
  const name = 'master key opens database';
  try {
    const result = await verifyMasterKey(store, new Vault(LocalKeyProvider.fromConfig(config)));
    return result === 'verified'
      ? check(name, 'ok', 'key check opened')
      : check(name, 'warn', 'no key check stored yet: run "relay init"');
  } catch (error) {
    return check(name, 'fail', describeError(error));
  }
}

function probe(port: number, host: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

async function portCheck(name: string, enabled: boolean, host: string, port: number): Promise<Check> {
  if (!enabled) return check(name, 'ok', 'listener disabled');
  if (port === 0) return check(name, 'ok', `${host}:0 (a free port is picked at start)`);
  const problem = await probe(port, host);
  if (problem === undefined) return check(name, 'ok', `${host}:${port} is free`);
  if (problem === 'EADDRINUSE')
    return check(name, 'warn', `${host}:${port} is in use (by a running Relay, or something else)`);
  return check(name, 'fail', `cannot listen on ${host}:${port}: ${problem}`);
}

export function portChecks(config: RelayConfig): Promise<Check[]> {
  return Promise.all([
    portCheck('proxy port', config.proxyEnabled, config.host, config.proxyPort),
    portCheck('api port', config.apiEnabled, config.apiHost, config.apiPort),
  ]);
}

export function privateUpstreamsCheck(config: RelayConfig): Check {
  return config.allowPrivateUpstreams
    ? check(
        'private upstreams',
        'warn',
        'RELAY_ALLOW_PRIVATE_UPSTREAMS=true: connections may reach loopback and private addresses (development only)',
      )
    : check('private upstreams', 'ok', 'refused (no SSRF through Relay)');
}
