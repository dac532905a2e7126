/**
 * IP address classification and CIDR matching, pure and allocation-light.
 * Addresses are normalised to 16-byte form; IPv4 and IPv4-mapped IPv6
 * (`::ffff:a.b.c.d`) compare as the same address.
 */

export type Bytes16 = Uint8Array;

/**
 * A dotted quad (four decimal parts of 1–3 digits, each ≤ 255) as its four bytes
 * packed into an unsigned 32-bit number, or -1. Scans char codes: it runs for
 * every proxied request.
 */
function parseV4Packed(text: string): number {
  if (text.length < 7 || text.length > 15) return -1;
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      part = part * 10 + (c - 48);
      if (part > 255) return -1;
      digits++;
    } else {
      return -1;
    }
  }
  if (digits === 0 || dots !== 3) return -1;
  return value * 256 + part;
}

function parseV4(text: string): number[] | undefined {
  const packed = parseV4Packed(text);
  if (packed === -1) return undefined;
  return [packed >>> 24, (packed >>> 16) & 0xff, (packed >>> 8) & 0xff, packed & 0xff];
}

const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;

/** 4 for a dotted-quad IPv4 literal, 6 for an IPv6 literal (RFC 4291 §2.2 text forms), 0 otherwise. */
export function ipVersion(text: string): 0 | 4 | 6 {
  if (parseV4Packed(text) !== -1) return 4;
  if (!text.includes(':') || text.length > 45) return 0;
  const halves = text.split('::');
  if (halves.length > 2) return 0;
  const groups = halves.flatMap((h) => (h === '' ? [] : h.split(':')));
  const last = groups.at(-1);
  const v4Tail = last?.includes('.') === true;
  if (v4Tail && parseV4(last ?? '') === undefined) return 0;
  const hexGroups = v4Tail ? groups.slice(0, -1) : groups;
  if (!hexGroups.every((g) => HEX_GROUP.test(g))) return 0;
  const count = hexGroups.length + (v4Tail ? 2 : 0);
  if (halves.length === 2 ? count > 7 : count !== 8) return 0;
  return 6;
}

/** Parses an IPv4 or IPv6 literal (zone ids refused) into 16 bytes; IPv4 becomes `::ffff:a.b.c.d`. */
export function parseIp(text: string): Bytes16 | undefined {
  const packed = parseV4Packed(text);
  if (packed !== -1) {
    const bytes = new Uint8Array(16);
    bytes[10] = 0xff;
    bytes[11] = 0xff;
    bytes[12] = packed >>> 24;
    bytes[13] = (packed >>> 16) & 0xff;
    bytes[14] = (packed >>> 8) & 0xff;
    bytes[15] = packed & 0xff;
    return bytes;
  }
  const kind = ipVersion(text);
  if (kind !== 6 || text.includes('%')) return undefined;
  let head = text;
  let tailV4: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    const v4 = parseV4(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tailV4 = v4;
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [left = '', right] = head.split('::') as [string, string | undefined];
  const leftGroups = left === '' ? [] : left.split(':');
  const rightGroups = right === undefined || right === '' ? [] : right.split(':');
  const missing = 8 - leftGroups.length - rightGroups.length;
  const groups = [...leftGroups, ...(right === undefined ? [] : Array(missing).fill('0')), ...rightGroups];
  if (groups.length !== 8) return undefined;
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = Number.parseInt(g, 16);
    bytes[i * 2] = n >> 8;
    bytes[i * 2 + 1] = n & 0xff;
  });
  if (tailV4.length === 4) bytes.set(tailV4, 12);
  return bytes;
}

export function isV4Mapped(bytes: Bytes16): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

export interface Cidr {
  readonly base: Bytes16;
  /** Prefix length over the 128-bit form (IPv4 /n becomes /96+n). */
  readonly bits: number;
  readonly text: string;
}

/** Parses `a.b.c.d/n`, `x::y/n` or a bare address (a host route). */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const addr = slash === -1 ? text : text.slice(0, slash);
  const base = parseIp(addr);
  if (base === undefined) return undefined;
  const isV4 = ipVersion(addr) === 4;
  const max = isV4 ? 32 : 128;
  let bits = max;
  if (slash !== -1) {
    const lenText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenText)) return undefined;
    bits = Number(lenText);
    if (bits > max) return undefined;
  }
  return { base, bits: isV4 ? bits + 96 : bits, text };
}

export function cidrContains(cidr: Cidr, ip: Bytes16): boolean {
  const full = Math.floor(cidr.bits / 8);
  for (let i = 0; i < full; i++) if (cidr.base[i] !== ip[i]) return false;
  const rest = cidr.bits % 8;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((cidr.base[full] ?? 0) & mask) === ((ip[full] ?? 0) & mask);
}

const NON_PUBLIC_RANGES: readonly Cidr[] = [
  '0.0.0.0/8', // "this network" (RFC 791)
  '10.0.0.0/8', // private (RFC 1918)
  '100.64.0.0/10', // carrier-grade NAT (RFC 6598)
  '127.0.0.0/8', // loopback
  '169.254.0.0/16', // link-local (RFC 3927), incl. cloud metadata 169.254.169.254
  '172.16.0.0/12', // private (RFC 1918)
  '192.0.0.0/24', // IETF protocol assignments (RFC 6890)
  '192.168.0.0/16', // private (RFC 1918)
  '198.18.0.0/15', // benchmarking (RFC 2544)
  '224.0.0.0/4', // multicast
  '240.0.0.0/4', // reserved, incl. broadcast
  '::/128', // unspecified
  '::1/128', // loopback
  '64:ff9b::/96', // NAT64 (RFC 6052): may reach private IPv4
  'fc00::/7', // unique local (RFC 4193)
  'fe80::/10', // link-local
  'ff00::/8', // multicast
].map((c) => parseCidr(c) as Cidr);

/** True for loopback, private, link-local and other addresses that must never be an upstream by default. */
export function isNonPublicIp(ip: Bytes16): boolean {
  return NON_PUBLIC_RANGES.some((range) => cidrContains(range, ip));
}
