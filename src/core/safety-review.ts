import type { Grant, IpMode, RecipientKind, ReviewFinding } from './model.ts';
import { compileGlob, globsOverlap } from './path-glob.ts';
import type { Preset } from './presets.ts';

/**
 * The scope safety review run before every credential is issued (SPEC §5).
 * Findings are plain-language and graded; a `high` finding blocks issuing
 * unless the caller explicitly acknowledges the risks.
 */

export interface ReviewInput {
  readonly grants: readonly Grant[];
  /** The preset of each granted connection, when it was created from one. */
  readonly presets: ReadonlyMap<string, Preset | undefined>;
  /** Lifetime in seconds; null for a credential that never expires. */
  readonly ttlSeconds: number | null;
  /** Kind of the holder; null for a standalone credential (services and automations). */
  readonly recipientKind: RecipientKind | null;
  readonly ipMode: IpMode;
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const DAY = 86_400;

/** Endpoints any API may have that hand out or manage credentials, or administer the account. */
const KEY_MANAGEMENT = [
  '/**/api-keys/**',
  '/**/api_keys/**',
  '/**/apikeys/**',
  '/**/tokens/**',
  '/**/keys/**',
  '/**/secrets/**',
  '/**/credentials/**',
  '/**/oauth/**',
];
const ADMINISTRATIVE = [
  '/**/admin/**',
  '/**/users/**',
  '/**/members/**',
  '/**/roles/**',
  '/**/permissions/**',
  '/**/billing/**',
  '/**/webhooks/**',
  '/**/settings/**',
];

function overlapsAny(pattern: string, candidates: readonly string[]): string | undefined {
  return candidates.find((c) => globsOverlap(pattern, c));
}

/**
 * The generic lists name words, not real endpoints: a `*` that could happen to
 * match a segment called `keys` is no finding. Only a literal segment, or a `**`
 * that reaches anything below, counts.
 */
function reachesGeneric(pattern: string, candidates: readonly string[]): string | undefined {
  const compiled = compileGlob(pattern);
  if (!compiled.ok) return undefined;
  const parts = compiled.value.parts;
  if (parts.some((p) => p.kind === 'any')) return overlapsAny(pattern, candidates);
  // Compared decoded, as the proxy compares: `/v1/api%2Dkeys` is `/v1/api-keys`.
  const literal = new Set(parts.flatMap((p) => (p.kind === 'literal' ? [p.text] : [])));
  return candidates.find((c) => c.split('/').some((s) => s !== '**' && literal.has(s)));
}

// A root-level `**` (a pattern that starts with it, like "/**" or "/**" + "/items"),
// or a `**` with no literal segment at all (like "/*" + "/**"): it reaches across the API.
function isRootWildcard(pattern: string): boolean {
  const compiled = compileGlob(pattern);
  if (!compiled.ok) return false;
  const parts = compiled.value.parts;
  if (parts[0]?.kind === 'any') return true;
  return parts.some((p) => p.kind === 'any') && parts.every((p) => p.kind !== 'literal');
}

function grantFindings(grant: Grant, preset: Preset | undefined): ReviewFinding[] {
  const out: ReviewFinding[] = [];
  const where = grant.connection_id;
  const writes = grant.allowed_methods.filter((m) => WRITE_METHODS.has(m));
  for (const pattern of grant.allowed_paths) {
    if (isRootWildcard(pattern)) {
      out.push({
        severity: writes.length > 0 ? 'high' : 'medium',
        code: 'root_wildcard',
        message: `${where}: "${pattern}" reaches every path of the API${writes.length > 0 ? ` with ${writes.join(', ')}` : ''}; list the paths actually needed.`,
      });
    }
    const keyPath =
      overlapsAny(pattern, preset?.sensitive_paths ?? []) ?? reachesGeneric(pattern, KEY_MANAGEMENT);
    if (keyPath !== undefined && writes.length > 0) {
      out.push({
        severity: 'high',
        code: 'write_on_sensitive_path',
        message: `${where}: ${writes.join(', ')} on "${pattern}" can reach "${keyPath}", which manages keys, webhooks or account settings.`,
      });
    } else if (keyPath !== undefined) {
      out.push({
        severity: 'medium',
        code: 'reads_sensitive_path',
        message: `${where}: "${pattern}" can read "${keyPath}", which may expose keys or account settings.`,
      });
    }
    const adminPath = reachesGeneric(pattern, ADMINISTRATIVE);
    if (adminPath !== undefined && writes.length > 0 && keyPath === undefined) {
      out.push({
        severity: 'high',
        code: 'write_on_admin_path',
        message: `${where}: ${writes.join(', ')} on "${pattern}" can reach administrative endpoints ("${adminPath}").`,
      });
    }
    const money = overlapsAny(pattern, preset?.money_moving_paths ?? []);
    if (money !== undefined && writes.length > 0) {
      out.push({
        severity: 'high',
        code: 'money_moving',
        message: `${where}: ${writes.join(', ')} on "${pattern}" can move money (${preset?.name} "${money}").`,
      });
    }
  }
  if (grant.allowed_methods.includes('DELETE')) {
    out.push({
      severity: 'medium',
      code: 'delete_allowed',
      message: `${where}: DELETE is allowed; deletions are usually irreversible.`,
    });
  }
  return out;
}

export function reviewScope(input: ReviewInput): ReviewFinding[] {
  const findings = input.grants.flatMap((g) => grantFindings(g, input.presets.get(g.connection_id)));
  if (input.ttlSeconds === null) {
    findings.push({
      severity: 'high',
      code: 'no_expiry',
      message: 'The credential never expires; set ttl_seconds or expires_at.',
    });
  } else if (input.ttlSeconds > 90 * DAY) {
    findings.push({
      severity: 'medium',
      code: 'long_lifetime',
      message: `The credential lives ${Math.round(input.ttlSeconds / DAY)} days; prefer 90 days or less.`,
    });
  } else if (input.ttlSeconds > 30 * DAY) {
    findings.push({
      severity: 'low',
      code: 'long_lifetime',
      message: `The credential lives ${Math.round(input.ttlSeconds / DAY)} days.`,
    });
  }
  if (input.recipientKind !== 'human' && input.ipMode === 'none') {
    findings.push({
      severity: 'medium',
      code: 'no_ip_restriction',
      message: `A ${input.recipientKind ?? 'standalone'} credential with no IP restriction works from anywhere it leaks to; pin it with ip_allowlist.`,
    });
  }
  if (input.recipientKind === 'human' && input.ipMode === 'none') {
    findings.push({
      severity: 'medium',
      code: 'ip_confirmation_off',
      message: "New-IP confirmation is off for a person's credential.",
    });
  }
  const rank = { high: 0, medium: 1, low: 2 } as const;
  return findings.sort((a, b) => rank[a.severity] - rank[b.severity]);
}

export function hasHighFindings(findings: readonly ReviewFinding[]): boolean {
  return findings.some((f) => f.severity === 'high');
}
