/**
 * Hop-by-hop fields, meaningful only for a single connection: a proxy must not
 * forward them (RFC 9110 §7.6.1), nor any field named in `Connection`.
 * `proxy-connection` and `keep-alive` are the non-standard but common ones.
 */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

const NOTHING_MORE: ReadonlySet<string> = new Set();

/** Names listed in the `Connection` header (lowercased), which are hop-by-hop for this message. */
export function connectionListed(value: string | string[] | undefined): ReadonlySet<string> {
  if (value === undefined) return NOTHING_MORE;
  // The usual value names only what is dropped anyway: no set to build.
  if (typeof value === 'string' && value.length === 10 && value.toLowerCase() === 'keep-alive')
    return NOTHING_MORE;
  const out = new Set<string>();
  for (const part of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    const name = part.trim().toLowerCase();
    if (name !== '') out.add(name);
  }
  return out;
}
