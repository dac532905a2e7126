import { fail, ok, type Result } from './errors.ts';
import type { CredentialPolicies, GeoRules } from './model.ts';

/** Validation and normalisation of the policy fields credentials and tokens carry. */

const COUNTRY = /^[A-Z]{2}$/;
const FINGERPRINT = /^[0-9A-F]{64}$/;

/** `AB:CD:…` or `abcd…` → `ABCD…` (SHA-256, 64 hex digits). */
export function normaliseFingerprint(text: string): string | undefined {
  const hex = text.replace(/:/g, '').trim().toUpperCase();
  return FINGERPRINT.test(hex) ? hex : undefined;
}

export function checkGeoRules(geo: GeoRules | undefined, where: string): Result<GeoRules | undefined> {
  if (geo === undefined) return ok(undefined);
  if (geo.allow !== undefined && geo.block !== undefined) {
    return fail('validation_failed', `${where}: give geo.allow or geo.block, not both`);
  }
  const list = geo.allow ?? geo.block ?? [];
  const upper = list.map((c) => c.trim().toUpperCase());
  const bad = upper.find((c) => !COUNTRY.test(c));
  if (bad !== undefined)
    return fail('validation_failed', `${where}: "${bad}" is not an ISO 3166-1 alpha-2 country code`);
  if (geo.allow !== undefined && upper.length === 0)
    return fail('validation_failed', `${where}: geo.allow must name a country`);
  return ok(geo.allow !== undefined ? { allow: [...new Set(upper)] } : { block: [...new Set(upper)] });
}

export interface PolicyInput {
  readonly geo?: GeoRules;
  readonly client_cert_fingerprints?: readonly string[];
  readonly mtls_required?: boolean;
}

export function checkPolicies(input: PolicyInput, where = 'policies'): Result<CredentialPolicies> {
  const geo = checkGeoRules(input.geo, where);
  if (!geo.ok) return geo;
  const fingerprints: string[] = [];
  for (const [i, f] of (input.client_cert_fingerprints ?? []).entries()) {
    const n = normaliseFingerprint(f);
    if (n === undefined)
      return fail(
        'validation_failed',
        `${where}: client_cert_fingerprints[${i}] is not a SHA-256 fingerprint`,
      );
    fingerprints.push(n);
  }
  if (input.mtls_required === true && fingerprints.length === 0) {
    return fail('validation_failed', `${where}: mtls_required needs client_cert_fingerprints`);
  }
  return ok({
    ...(geo.value === undefined ? {} : { geo: geo.value }),
    ...(fingerprints.length === 0 ? {} : { client_cert_fingerprints: [...new Set(fingerprints)] }),
    ...(input.mtls_required === undefined ? {} : { mtls_required: input.mtls_required }),
  });
}
