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

/** Names listed in the `Connection` header (lowercased), which are hop-by-hop for this message. */
export function connectionListed(value: string | string[] | undefined): Set<string> {
  const out = new Set<string>();
  if (value === undefined) return out;
  for (const part of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    const name = part.trim().toLowerCase();
    if (name !== '') out.add(name);
  }
  return out;
}
