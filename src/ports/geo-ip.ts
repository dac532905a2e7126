/**
 * Country of an IP address, for geo rules (SPEC §4 step 3). `undefined` when the
 * address has no country: private, loopback and reserved ranges, or gaps in the
 * database. The `.mmdb` adapter is the default; tests may substitute a table.
 */
export interface GeoIp {
  /** ISO 3166-1 alpha-2 code, upper case, or undefined. */
  country(ip: string): string | undefined;
}
