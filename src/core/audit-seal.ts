import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  hash,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import type { AuditRecord } from './audit.ts';
import { randomBase62 } from './base62.ts';
import type { Clock } from './clock.ts';
import { associatedDataById, type SealRef, type Vault } from './vault.ts';

/**
 * Encryption at rest of an audit record's sensitive fields (SPEC §7, §9): the
 * path, the query (when logged), the client IP and the user agent.
 *
 * Envelope scheme, with the data key shared by a run of records rather than
 * made per record: each audit writer uses one random 256-bit data key per
 * workspace for at most an hour or 100,000 records. The key is sealed by the
 * Vault like any other secret (its own data key, wrapped by the master key,
 * AAD naming `audit_keys`, the workspace and the key id) and stored once in
 * `audit_keys`; each record names it in `key_id`.
 *
 * The sensitive fields of a whole batch are sealed together, as one AES-256-GCM
 * message under that key with a fresh 96-bit IV: a JSON array holding, for each
 * record, `[id, path, query, ip, user_agent]`. It is stored once, in
 * `audit_sealed_batches`, with an AAD that binds the workspace, the batch id and
 * the field list. Each record's `sealed` column names the batch, the record's
 * place in it and a digest of the sealed batch (`batch:<id>:<index>:<digest>`),
 * and its plaintext columns keep `''` or null. So a record opens only to its own
 * fields (the element must carry its id), a batch moved or changed fails to open,
 * and the chain, which covers the `sealed` column, covers the batch too.
 *
 * Records written before batches (migration 0006) keep their fields as a message
 * of their own in `sealed` (AAD: workspace, record id, field list), and still open.
 * `relay keys rotate-master` re-wraps the `audit_keys` rows like every other
 * sealed column; the records are not touched. A key whose records have all
 * been pruned is deleted with them (crypto-shredding).
 *
 * Why not a key, or a message, per record: the worker runs this for every proxied
 * request, on the same cores as the proxy. A key per record costs a wrap and an
 * insert each; and setting up one GCM operation costs far more than encrypting a
 * few hundred bytes (about 9 µs with a reused KeyObject on the reference machine),
 * so one message per batch, and per batch one upsert of the key row.
 */

/** The field list the AAD names: a record's own message is `[path, query, ip, user_agent]`. */
const SEALED_FIELDS = 'path,query,ip,user_agent';
/** A batch's message is an array of `[id, path, query, ip, user_agent]`, one per record. */
const BATCH_FIELDS = 'id,path,query,ip,user_agent';
const BATCH_REF = 'batch:';
/** Base64url characters of the batch digest in a reference: 128 bits of SHA-256. */
const DIGEST_CHARS = 22;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Shown instead of a sealed field read by a store opened without the master key. */
export const SEALED_PLACEHOLDER = '[sealed]';
/** Shown instead of a sealed field that does not open (its key gone, or the ciphertext changed). */
export const UNREADABLE_PLACEHOLDER = '[unreadable]';

const KEY_MAX_AGE_MS = 3_600_000;
const KEY_MAX_RECORDS = 100_000;
const READ_CACHE_SIZE = 256;
const BATCH_CACHE_SIZE = 64;

/** An audit data key as stored in `audit_keys`. */
export interface AuditDataKey {
  readonly workspaceId: string;
  readonly id: string;
  readonly sealed: string;
  readonly createdAt: string;
}

/** A batch's sensitive fields as stored in `audit_sealed_batches`. */
export interface SealedFieldsBatch {
  readonly id: string;
  readonly keyId: string;
  readonly sealed: string;
}

export interface SealedBatch {
  readonly key: AuditDataKey;
  readonly batch: SealedFieldsBatch;
}

/** A record as read back: `keyId` and `sealed` null for one written before encryption (plaintext). */
export type StoredAuditRecord = AuditRecord & {
  readonly keyId: string | null;
  readonly sealed: string | null;
};

/** Reads sealed data keys by id (the store's `audit_keys`). */
export type KeyLoader = (
  workspaceId: string,
  keyIds: readonly string[],
) => Promise<ReadonlyMap<string, string>>;

/** Reads sealed batches by id (the store's `audit_sealed_batches`). */
export type BatchLoader = (
  workspaceId: string,
  batchIds: readonly string[],
) => Promise<ReadonlyMap<string, SealedFieldsBatch>>;

/** Where a record's sensitive fields are: a place in a sealed batch. */
export interface BatchReference {
  readonly batchId: string;
  readonly index: number;
  readonly digest: string;
}

/** The digest a reference carries of its sealed batch, as stored. */
export function batchDigest(sealed: string): string {
  return hash('sha256', sealed, 'base64url').slice(0, DIGEST_CHARS);
}

/** The `sealed` value of the record at `index` of a batch, naming its place. */
export function batchPlace(batchId: string, index: number, digest: string): string {
  const [before, after] = batchPlaceAround(batchId, digest);
  return `${before}${index}${after}`;
}

/** `batchPlace` cut around the index: what comes before it and after it, for a whole batch. */
export function batchPlaceAround(batchId: string, digest: string): readonly [before: string, after: string] {
  return [`${BATCH_REF}${batchId}:`, `:${digest}`];
}

/** Reads `batch:<id>:<index>:<digest>`; undefined for a record sealed on its own (or plaintext). */
export function batchReference(sealed: string | null): BatchReference | undefined {
  if (sealed === null || !sealed.startsWith(BATCH_REF)) return undefined;
  const [batchId, index, digest] = sealed.slice(BATCH_REF.length).split(':');
  if (batchId === undefined || index === undefined || digest === undefined || !/^\d{1,6}$/.test(index))
    return undefined;
  return { batchId, index: Number(index), digest };
}

type BatchElement = readonly [
  id: string,
  path: string,
  query: string | null,
  ip: string,
  userAgent: string | null,
];

function isBatchElement(value: unknown): value is BatchElement {
  return (
    Array.isArray(value) &&
    value.length === 5 &&
    typeof value[0] === 'string' &&
    isSensitiveFields(value.slice(1))
  );
}

interface WriterKey {
  readonly ref: AuditDataKey;
  readonly key: KeyObject;
  readonly born: number;
  uses: number;
}

export function auditKeyRef(workspaceId: string, id: string): SealRef {
  return { table: 'audit_keys', workspaceId, id, field: 'key_sealed' };
}

/** The AAD of each record of a workspace: it binds the workspace, the record id and the field list. */
function recordAads(workspaceId: string): (recordId: string) => Buffer {
  const text = associatedDataById({ table: 'audit_events', workspaceId, field: SEALED_FIELDS });
  return (recordId) => Buffer.from(text(recordId), 'utf8');
}

/** The AAD of a sealed batch: it binds the workspace, the batch id and the field list. */
function batchAad(workspaceId: string, batchId: string): Buffer {
  const text = associatedDataById({ table: 'audit_sealed_batches', workspaceId, field: BATCH_FIELDS });
  return Buffer.from(text(batchId), 'utf8');
}

/** AES-256-GCM: base64url(iv ‖ ciphertext ‖ tag). `iv` must be fresh random bytes, never reused. */
function encrypt(key: KeyObject, iv: Buffer, plaintext: string, aad: Buffer): string {
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const body = cipher.update(plaintext, 'utf8');
  const last = cipher.final();
  return Buffer.concat([iv, body, last, cipher.getAuthTag()]).toString('base64url');
}

function decrypt(key: KeyObject, sealed: string, aad: Buffer): string {
  const box = Buffer.from(sealed, 'base64url');
  if (box.length < IV_BYTES + TAG_BYTES) throw new Error('sealed audit fields are truncated');
  const decipher = createDecipheriv('aes-256-gcm', key, box.subarray(0, IV_BYTES));
  decipher.setAAD(aad);
  decipher.setAuthTag(box.subarray(box.length - TAG_BYTES));
  const body = decipher.update(box.subarray(IV_BYTES, box.length - TAG_BYTES));
  return Buffer.concat([body, decipher.final()]).toString('utf8');
}

type SensitiveFields = readonly [path: string, query: string | null, ip: string, userAgent: string | null];

function isSensitiveFields(value: unknown): value is SensitiveFields {
  return (
    Array.isArray(value) &&
    value.length === 4 &&
    typeof value[0] === 'string' &&
    (value[1] === null || typeof value[1] === 'string') &&
    typeof value[2] === 'string' &&
    (value[3] === null || typeof value[3] === 'string')
  );
}

/** The bare record, without chain or key columns. */
function plain(r: AuditRecord): AuditRecord {
  return {
    workspaceId: r.workspaceId,
    id: r.id,
    at: r.at,
    requestId: r.requestId,
    connectionId: r.connectionId,
    credentialId: r.credentialId,
    recipientId: r.recipientId,
    method: r.method,
    path: r.path,
    query: r.query,
    decision: r.decision,
    reason: r.reason,
    status: r.status,
    durationMs: r.durationMs,
    upstreamMs: r.upstreamMs,
    bytesIn: r.bytesIn,
    bytesOut: r.bytesOut,
    ip: r.ip,
    userAgent: r.userAgent,
  };
}

function withFields(r: AuditRecord, text: string): AuditRecord {
  return { ...plain(r), path: text, query: text, ip: text, userAgent: text };
}

/** What a store without the master key can show: everything but the sealed fields. */
export function withoutSealedFields(r: StoredAuditRecord): AuditRecord {
  return r.sealed === null ? plain(r) : withFields(r, SEALED_PLACEHOLDER);
}

/** Opened keys or batches by `workspace\0id`, least recently used dropped first beyond `size`. */
class OpenedCache<V> {
  readonly #entries = new Map<string, V>();
  readonly #size: number;

  constructor(size: number) {
    this.#size = size;
  }

  get(key: string): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): void {
    this.#entries.set(key, value);
    if (this.#entries.size > this.#size) this.#entries.delete(this.#entries.keys().next().value as string);
  }
}

/**
 * The opened values that `rows` name (`idOf` a row, if it names one), by `workspace\0id`:
 * from `cache`, else loaded per workspace with one call and opened. A value that does
 * not open is absent from the answer, and its records read as unreadable.
 */
async function readThrough<S, V>(
  rows: readonly StoredAuditRecord[],
  idOf: (r: StoredAuditRecord) => string | undefined,
  cache: OpenedCache<V>,
  load: (workspaceId: string, ids: readonly string[]) => Promise<ReadonlyMap<string, S>>,
  open: (workspaceId: string, id: string, stored: S) => Promise<V | undefined>,
): Promise<Map<string, V>> {
  const found = new Map<string, V>();
  const wanted = new Map<string, Set<string>>();
  for (const r of rows) {
    const id = idOf(r);
    if (id === undefined) continue;
    const cacheKey = `${r.workspaceId}\u0000${id}`;
    if (found.has(cacheKey)) continue;
    const cached = cache.get(cacheKey);
    if (cached !== undefined) {
      found.set(cacheKey, cached);
      continue;
    }
    const ids = wanted.get(r.workspaceId) ?? new Set<string>();
    wanted.set(r.workspaceId, ids);
    ids.add(id);
  }
  for (const [workspaceId, ids] of wanted) {
    for (const [id, stored] of await load(workspaceId, [...ids])) {
      const value = await open(workspaceId, id, stored);
      if (value === undefined) continue;
      const cacheKey = `${workspaceId}\u0000${id}`;
      found.set(cacheKey, value);
      cache.set(cacheKey, value);
    }
  }
  return found;
}

export class AuditSealer {
  readonly #vault: Vault;
  readonly #clock: Clock;
  /** The key each workspace's records are sealed with now (writer side). */
  readonly #writing = new Map<string, WriterKey>();
  /** Opened keys, most recently used last (reader side). */
  readonly #reading = new OpenedCache<KeyObject>(READ_CACHE_SIZE);
  /** Opened batches (reader side): a page of records mostly shares a few. */
  readonly #batches = new OpenedCache<readonly BatchElement[]>(BATCH_CACHE_SIZE);

  constructor(vault: Vault, clock: Clock) {
    this.#vault = vault;
    this.#clock = clock;
  }

  /**
   * Seals the sensitive fields of a batch of records (all of `workspaceId`), each given
   * as the JSON text of `[id, path, query, ip, user_agent]`. Their stored form then has
   * `''` or null in those fields, `keyId` the batch's key and `sealed` their place in it
   * (see `batchReference`); chaining is the store's part.
   */
  async sealBatch(workspaceId: string, sensitive: readonly string[]): Promise<SealedBatch> {
    const { key, ref } = await this.#writerKey(workspaceId, sensitive.length);
    const batchId = `aseal_${randomBase62(20)}`;
    const plaintext = `[${sensitive.join(',')}]`;
    const sealed = encrypt(key, randomBytes(IV_BYTES), plaintext, batchAad(workspaceId, batchId));
    return { key: ref, batch: { id: batchId, keyId: ref.id, sealed } };
  }

  /** Opens the sealed fields of stored records (one key and batch load per one not yet cached). */
  async open(
    rows: readonly StoredAuditRecord[],
    load: { readonly keys: KeyLoader; readonly batches: BatchLoader },
  ): Promise<AuditRecord[]> {
    const keys = await this.#readerKeys(rows, load.keys);
    const batches = await this.#readerBatches(rows, keys, load.batches);
    return rows.map((r) => {
      if (r.keyId === null || r.sealed === null) return plain(r);
      const reference = batchReference(r.sealed);
      if (reference !== undefined) {
        const element = batches.get(`${r.workspaceId}\u0000${reference.batchId}`)?.[reference.index];
        if (element === undefined || element[0] !== r.id) return withFields(r, UNREADABLE_PLACEHOLDER);
        const [, path, query, ip, userAgent] = element;
        return { ...plain(r), path, query, ip, userAgent };
      }
      const key = keys.get(`${r.workspaceId}\u0000${r.keyId}`);
      if (key === undefined) return withFields(r, UNREADABLE_PLACEHOLDER);
      let fields: unknown;
      try {
        fields = JSON.parse(decrypt(key, r.sealed, recordAads(r.workspaceId)(r.id)));
      } catch {
        return withFields(r, UNREADABLE_PLACEHOLDER);
      }
      if (!isSensitiveFields(fields)) return withFields(r, UNREADABLE_PLACEHOLDER);
      const [path, query, ip, userAgent] = fields;
      return { ...plain(r), path, query, ip, userAgent };
    });
  }

  /** The opened batches `rows` name, by `workspace\0batch`; a batch that does not open is absent. */
  #readerBatches(
    rows: readonly StoredAuditRecord[],
    keys: ReadonlyMap<string, KeyObject>,
    load: BatchLoader,
  ): Promise<Map<string, readonly BatchElement[]>> {
    return readThrough(
      rows,
      (r) => batchReference(r.sealed)?.batchId,
      this.#batches,
      load,
      async (workspaceId, id, batch) => {
        const key = keys.get(`${workspaceId}\u0000${batch.keyId}`);
        if (key === undefined) return undefined;
        let elements: unknown;
        try {
          elements = JSON.parse(decrypt(key, batch.sealed, batchAad(workspaceId, id)));
        } catch {
          return undefined;
        }
        return Array.isArray(elements) && elements.every(isBatchElement) ? elements : undefined;
      },
    );
  }

  async #writerKey(workspaceId: string, count: number): Promise<WriterKey> {
    const now = this.#clock.now();
    let current = this.#writing.get(workspaceId);
    if (current === undefined || now - current.born >= KEY_MAX_AGE_MS || current.uses >= KEY_MAX_RECORDS) {
      const raw = randomBytes(32);
      const id = `akey_${randomBase62(20)}`;
      const sealed = await this.#vault.seal(raw.toString('base64'), auditKeyRef(workspaceId, id));
      const ref = { workspaceId, id, sealed, createdAt: new Date(now).toISOString() };
      current = { ref, key: createSecretKey(raw), born: now, uses: 0 };
      raw.fill(0);
      this.#writing.set(workspaceId, current);
    }
    current.uses += count;
    return current;
  }

  #readerKeys(rows: readonly StoredAuditRecord[], load: KeyLoader): Promise<Map<string, KeyObject>> {
    return readThrough(
      rows,
      (r) => r.keyId ?? undefined,
      this.#reading,
      load,
      async (workspaceId, id, sealed) => {
        try {
          return createSecretKey(
            Buffer.from(await this.#vault.open(sealed, auditKeyRef(workspaceId, id)), 'base64'),
          );
        } catch {
          // A key that does not open leaves its fields unreadable; verify reports any tampering.
          return undefined;
        }
      },
    );
  }
}
