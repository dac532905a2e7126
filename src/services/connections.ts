import { RelayError, unwrap } from '../core/errors.ts';
import { isReadableConnectionId, newId } from '../core/ids.ts';
import type {
  Actor,
  AuthConfig,
  AuthType,
  Connection,
  ConnectionOptions,
  GeoRules,
  SecretScanningMode,
} from '../core/model.ts';
import { checkGeoRules } from '../core/policies.ts';
import { findPreset } from '../core/presets.ts';
import { addressesAllowed, parseBaseUrl } from '../core/upstream-url.ts';
import type { SealRef } from '../core/vault.ts';
import type { ListOptions, Page } from '../ports/store.ts';
import { recordAdminAction } from './admin-audit.ts';
import type { ServiceDeps } from './deps.ts';

export interface ConnectionAuthInput {
  readonly type: AuthType;
  readonly secret: string;
  readonly username?: string;
  readonly header_name?: string;
  readonly query_param?: string;
  readonly token_url?: string;
  readonly client_id?: string;
  readonly scope?: string;
}

export interface ConnectionOptionsInput {
  readonly log_query_strings?: boolean;
  readonly secret_scanning?: SecretScanningMode;
  readonly allow_insecure_upstream?: boolean;
  readonly geo?: GeoRules;
}

export interface CreateConnectionInput {
  readonly id?: string;
  readonly name: string;
  /** Required unless `preset` gives it. */
  readonly base_url?: string;
  readonly auth: Omit<ConnectionAuthInput, 'type'> & { readonly type?: AuthType };
  readonly preset?: string;
  readonly options?: ConnectionOptionsInput;
}

export interface UpdateConnectionInput {
  readonly name?: string;
  readonly base_url?: string;
  readonly auth?: Omit<ConnectionAuthInput, 'secret'> & { readonly secret?: string };
  readonly options?: ConnectionOptionsInput;
}

const DEFAULT_OPTIONS: ConnectionOptions = Object.freeze({
  log_query_strings: false,
  secret_scanning: 'off',
  allow_insecure_upstream: false,
});

/** RFC 9110 §5.1 token: what a header name may be. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers the injector must never be pointed at: framing and routing belong to Relay. */
const FORBIDDEN_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'upgrade',
  'te',
  'cookie',
]);

export const secretRef = (workspaceId: string, id: string): SealRef => ({
  table: 'connections',
  workspaceId,
  id,
  field: 'secret_sealed',
});

function last4(secret: string): string {
  return secret.length <= 8 ? '' : secret.slice(-4);
}

/** Checks that the auth settings carry what their injection style needs; returns only the non-secret part. */
export function authConfigFor(auth: Omit<ConnectionAuthInput, 'secret'>): AuthConfig {
  const need = (field: keyof AuthConfig, why: string): string => {
    const value = auth[field];
    if (typeof value !== 'string' || value.trim() === '')
      throw new RelayError('invalid_auth_config', `auth.${field} is required: ${why}`);
    return value;
  };
  switch (auth.type) {
    case 'bearer':
      return {};
    case 'basic':
      // key-as-user when username is absent; user/pass when present
      return auth.username === undefined ? {} : { username: auth.username };
    case 'header': {
      const header_name = need('header_name', 'the header the key is sent in').toLowerCase();
      if (!HEADER_NAME.test(header_name) || FORBIDDEN_HEADERS.has(header_name)) {
        throw new RelayError(
          'invalid_auth_config',
          `auth.header_name "${header_name}" is not a usable header name`,
        );
      }
      return { header_name };
    }
    case 'query':
      return { query_param: need('query_param', 'the query parameter the key is sent in') };
    case 'oauth2_client_credentials': {
      const token_url = need('token_url', 'where Relay fetches access tokens');
      const client_id = need('client_id', 'the OAuth client id');
      return { token_url, client_id, ...(auth.scope === undefined ? {} : { scope: auth.scope }) };
    }
  }
}

/** Merges option changes over a base, normalising geo rules (upper-case codes, allow xor block). */
function optionsFrom(base: ConnectionOptions, change: ConnectionOptionsInput | undefined): ConnectionOptions {
  const merged: ConnectionOptions = { ...base, ...change };
  if (change?.geo === undefined) return merged;
  const geo = unwrap(checkGeoRules(change.geo, 'options.geo'));
  return { ...merged, ...(geo === undefined ? {} : { geo }) };
}

/** Fills what the caller left out from the named preset; what the caller gave wins. */
export function withPreset(input: CreateConnectionInput): { base_url: string; auth: ConnectionAuthInput } {
  const preset = input.preset === undefined ? undefined : findPreset(input.preset);
  if (input.preset !== undefined && preset === undefined) {
    throw new RelayError(
      'validation_failed',
      `unknown preset "${input.preset}"; GET /api/v1/presets lists them`,
    );
  }
  const base_url = input.base_url ?? preset?.base_url;
  if (base_url === undefined)
    throw new RelayError('validation_failed', 'base_url is required (or name a preset)');
  const type = input.auth.type ?? preset?.auth.type;
  if (type === undefined)
    throw new RelayError('invalid_auth_config', 'auth.type is required (or name a preset)');
  const fromPreset = preset !== undefined && input.auth.type === undefined ? preset.auth : {};
  return { base_url, auth: { ...fromPreset, ...input.auth, type } };
}

export class ConnectionService {
  readonly #deps: ServiceDeps;

  constructor(deps: ServiceDeps) {
    this.#deps = deps;
  }

  async #checkUpstream(baseUrl: string, options: ConnectionOptions, tokenUrl?: string): Promise<string> {
    const policy = {
      allowPrivate: this.#deps.allowPrivateUpstreams,
      allowInsecure: options.allow_insecure_upstream,
    };
    const parsed = unwrap(parseBaseUrl(baseUrl, policy));
    if (tokenUrl !== undefined) unwrap(parseBaseUrl(tokenUrl, policy));
    if (!this.#deps.allowPrivateUpstreams) {
      // A name that resolves to a private address now is refused now; the proxy checks
      // again at connect time. A name that does not resolve yet is accepted.
      const addresses = await this.#deps.resolver.resolve(parsed.hostname).catch(() => []);
      if (!addressesAllowed(addresses, false)) {
        throw new RelayError(
          'unsafe_upstream',
          `base_url host ${parsed.hostname} resolves to a private or loopback address`,
        );
      }
    }
    return parsed.url;
  }

  async create(actor: Actor, input: CreateConnectionInput): Promise<Connection> {
    const { clock, store, vault, bus } = this.#deps;
    if (input.id !== undefined && !isReadableConnectionId(input.id)) {
      throw new RelayError(
        'validation_failed',
        'id must look like conn_hubspot: conn_ then lowercase letters, digits, _ or -',
      );
    }
    const options = optionsFrom(DEFAULT_OPTIONS, input.options);
    const { base_url, auth } = withPreset(input);
    const authConfig = authConfigFor(auth);
    const baseUrl = await this.#checkUpstream(base_url, options, authConfig.token_url);
    if (input.auth.secret.trim() === '')
      throw new RelayError('invalid_auth_config', 'auth.secret must not be empty');
    const id = input.id ?? newId('connection');
    const now = new Date(clock.now()).toISOString();
    const connection: Connection = {
      workspaceId: actor.workspaceId,
      id,
      name: input.name,
      baseUrl,
      authType: auth.type,
      authConfig,
      secretSealed: await vault.seal(input.auth.secret, secretRef(actor.workspaceId, id)),
      secretLast4: last4(input.auth.secret),
      preset: input.preset ?? null,
      options,
      createdAt: now,
      updatedAt: now,
    };
    await store.transaction(async (tx) => {
      if (await tx.connections.get(actor.workspaceId, id))
        throw new RelayError('conflict', `connection ${id} already exists`);
      await tx.connections.insert(connection);
      await recordAdminAction(tx, clock, actor, 'connection.create', id, {
        name: input.name,
        base_url: baseUrl,
        auth_type: auth.type,
      });
    });
    await bus.publishInvalidation({ kind: 'connection', workspaceId: actor.workspaceId, id });
    return connection;
  }

  async get(workspaceId: string, id: string): Promise<Connection> {
    const connection = await this.#deps.store.connections.get(workspaceId, id);
    if (!connection) throw new RelayError('not_found', `connection ${id} not found`);
    return connection;
  }

  list(workspaceId: string, options: ListOptions): Promise<Page<Connection>> {
    return this.#deps.store.connections.list(workspaceId, options);
  }

  async update(actor: Actor, id: string, input: UpdateConnectionInput): Promise<Connection> {
    const { clock, store, vault, bus } = this.#deps;
    const current = await this.get(actor.workspaceId, id);
    const options = optionsFrom(current.options, input.options);
    const authConfig = input.auth ? authConfigFor(input.auth) : current.authConfig;
    const baseUrl = await this.#checkUpstream(
      input.base_url ?? current.baseUrl,
      options,
      authConfig.token_url,
    );
    const secret = input.auth?.secret;
    if (secret !== undefined && secret.trim() === '')
      throw new RelayError('invalid_auth_config', 'auth.secret must not be empty');
    const next: Connection = {
      ...current,
      name: input.name ?? current.name,
      baseUrl,
      authType: input.auth?.type ?? current.authType,
      authConfig,
      options,
      secretSealed:
        secret === undefined
          ? current.secretSealed
          : await vault.seal(secret, secretRef(actor.workspaceId, id)),
      secretLast4: secret === undefined ? current.secretLast4 : last4(secret),
      updatedAt: new Date(clock.now()).toISOString(),
    };
    await store.transaction(async (tx) => {
      if (!(await tx.connections.update(next)))
        throw new RelayError('not_found', `connection ${id} not found`);
      const changed = Object.keys(input).filter((k) => k !== 'auth');
      if (input.auth) changed.push(secret === undefined ? 'auth' : 'auth+secret');
      await recordAdminAction(tx, clock, actor, 'connection.update', id, { changed });
    });
    await bus.publishInvalidation({ kind: 'connection', workspaceId: actor.workspaceId, id });
    return next;
  }

  async replaceSecret(actor: Actor, id: string, secret: string): Promise<Connection> {
    if (secret.trim() === '') throw new RelayError('invalid_auth_config', 'secret must not be empty');
    const { clock, store, vault, bus } = this.#deps;
    const current = await this.get(actor.workspaceId, id);
    const next: Connection = {
      ...current,
      secretSealed: await vault.seal(secret, secretRef(actor.workspaceId, id)),
      secretLast4: last4(secret),
      updatedAt: new Date(clock.now()).toISOString(),
    };
    await store.transaction(async (tx) => {
      if (!(await tx.connections.update(next)))
        throw new RelayError('not_found', `connection ${id} not found`);
      await recordAdminAction(tx, clock, actor, 'connection.secret.replace', id, {
        secret_last4: next.secretLast4,
      });
    });
    await bus.publishInvalidation({ kind: 'connection', workspaceId: actor.workspaceId, id });
    return next;
  }

  async delete(actor: Actor, id: string): Promise<void> {
    const { clock, store, bus } = this.#deps;
    await store.transaction(async (tx) => {
      // A live credential's grant names this id: deleting would let a later connection
      // re-created under the same id inherit those grants, perhaps for another upstream.
      const granted = await tx.credentials.liveGrantingConnection(
        actor.workspaceId,
        id,
        new Date(clock.now()).toISOString(),
      );
      if (granted.length > 0) {
        throw new RelayError(
          'conflict',
          `connection ${id} is granted to ${granted.length} live credential(s) (${granted.slice(0, 5).join(', ')}); revoke them first`,
        );
      }
      if (!(await tx.connections.delete(actor.workspaceId, id)))
        throw new RelayError('not_found', `connection ${id} not found`);
      await recordAdminAction(tx, clock, actor, 'connection.delete', id);
    });
    await bus.publishInvalidation({ kind: 'connection', workspaceId: actor.workspaceId, id });
  }

  /** The real upstream key, for the proxy's injector only. Never returned by any API. */
  async revealSecret(connection: Connection): Promise<string> {
    return this.#deps.vault.open(connection.secretSealed, secretRef(connection.workspaceId, connection.id));
  }
}
