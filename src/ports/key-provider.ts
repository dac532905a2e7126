/**
 * Wraps and unwraps per-record data keys with a key-encryption key (KEK) that
 * lives outside the database. The local adapter keeps the KEK in a file or an
 * environment variable; a KMS adapter can implement the same three methods.
 */
export interface KeyProvider {
  /** Key id used to wrap new data keys. */
  primaryKeyId(): string;
  /** Wraps `dataKey` under the primary KEK, bound to `aad`. */
  wrap(dataKey: Buffer, aad: string): Promise<{ readonly keyId: string; readonly wrapped: Buffer }>;
  /** Unwraps with the KEK named `keyId`; throws when the key is unknown or the AAD does not match. */
  unwrap(keyId: string, wrapped: Buffer, aad: string): Promise<Buffer>;
}
