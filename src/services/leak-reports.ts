import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import { RelayError, unwrap } from '../core/errors.ts';
import {
  type LeakReportAnswer,
  parseLeakReport,
  type ReportedToken,
  verifyLeakReport,
} from '../core/leak-report.ts';
import type { Actor } from '../core/model.ts';
import { displayPrefix, hashToken, isWellFormedToken, kindOf } from '../core/tokens.ts';
import type { Bus } from '../ports/bus.ts';
import type { Store } from '../ports/store.ts';
import { recordAdminAction } from './admin-audit.ts';
import type { LeakReportKeySource } from './leak-reports-keys.ts';
import type { RaiseInput } from './security-events.ts';

export interface LeakReportDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly bus: Bus;
  readonly logger: Logger;
  readonly keys: LeakReportKeySource;
  readonly raise: (event: RaiseInput) => Promise<unknown>;
}

export interface SignedReport {
  readonly body: Buffer;
  readonly keyIdentifier: string | undefined;
  readonly signature: string | undefined;
  /** Who delivered it (the scanner's address), for the audit. */
  readonly ip: string | null;
}

/** What one reported token turned out to be. */
interface Finding {
  readonly found: boolean;
}

/**
 * Leak reports from GitHub's secret-scanning partner program (SPEC §8). The
 * signature is checked before anything else; then each reported token is
 * looked up by its SHA-256 (only well-formed Relay tokens: the checksum weeds
 * out look-alikes without a lookup), in every workspace. A live token found is
 * revoked at once (admin audit by `system`, caches dropped on every node
 * through the bus) and a critical `leaked_token` event is raised in its
 * workspace; a token that was already dead gets a `high` event (nothing to
 * stop, but its holder leaks secrets). Nothing about the token itself is
 * logged or stored beyond its display prefix.
 */
export class LeakReportService {
  readonly #deps: LeakReportDeps;

  constructor(deps: LeakReportDeps) {
    this.#deps = deps;
  }

  /** Throws `service_unavailable` (not configured), `unauthenticated` (signature) or a validation error. */
  async handle(report: SignedReport, reporter: string): Promise<LeakReportAnswer[]> {
    const keys = this.#deps.keys.keys();
    if (keys === undefined)
      throw new RelayError('service_unavailable', 'leak reports are not configured on this Relay');
    if (!verifyLeakReport(keys, report.keyIdentifier, report.signature, report.body))
      throw new RelayError('unauthenticated', 'the leak report signature does not verify');
    const tokens = unwrap(parseLeakReport(report.body));
    const seen = new Map<string, Promise<Finding>>();
    const answers: LeakReportAnswer[] = [];
    for (const reported of tokens) {
      let finding = seen.get(reported.token);
      if (finding === undefined) {
        finding = this.#handleToken(reported, reporter, report.ip);
        seen.set(reported.token, finding);
      }
      const { found } = await finding;
      answers.push({
        token_raw: reported.token,
        token_type: reported.type,
        label: found ? 'true_positive' : 'false_positive',
      });
    }
    this.#deps.logger.warn(
      {
        reporter,
        reported: tokens.length,
        true_positives: answers.filter((a) => a.label === 'true_positive').length,
      },
      'leak report received',
    );
    return answers;
  }

  async #handleToken(reported: ReportedToken, reporter: string, ip: string | null): Promise<Finding> {
    const kind = kindOf(reported.token);
    if (!isWellFormedToken(reported.token) || kind === undefined) return { found: false };
    const hash = hashToken(reported.token);
    const source = { reporter, token_type: reported.type, url: reported.url, source: reported.source };
    if (kind === 'proxy') return this.#credential(hash, reported.token, source, ip);
    if (kind === 'management') return this.#managementToken(hash, reported.token, source, ip);
    // App tokens (`rly_`) have no store yet: nothing of ours to find.
    return { found: false };
  }

  async #credential(
    hash: string,
    token: string,
    source: Record<string, string>,
    ip: string | null,
  ): Promise<Finding> {
    const { store, clock, bus } = this.#deps;
    const credential = await store.credentials.findByHash(hash);
    if (!credential) return { found: false };
    const actor: Actor = { workspaceId: credential.workspaceId, actor: 'system', ip };
    const at = new Date(clock.now()).toISOString();
    const revoked = await store.transaction(async (tx) => {
      const current = await tx.credentials.get(credential.workspaceId, credential.id);
      if (!current || current.revokedAt !== null) return false;
      await tx.credentials.markRevoked(credential.workspaceId, credential.id, at);
      await recordAdminAction(tx, clock, actor, 'credential.revoke', credential.id, {
        reason: 'leak_report',
        ...source,
      });
      return true;
    });
    await bus.publishInvalidation({
      kind: 'credential',
      workspaceId: credential.workspaceId,
      id: credential.id,
    });
    const live = revoked && (credential.expiresAt === null || Date.parse(credential.expiresAt) > clock.now());
    await this.#raise(credential.workspaceId, credential.id, 'credential', token, source, revoked, live);
    return { found: true };
  }

  async #managementToken(
    hash: string,
    token: string,
    source: Record<string, string>,
    ip: string | null,
  ): Promise<Finding> {
    const { store, clock, bus } = this.#deps;
    const found = await store.managementTokens.findByHash(hash);
    if (!found) return { found: false };
    const now = clock.now();
    // A rotated-out secret past its grace period opens nothing any more: the token itself stays.
    const secretWorks =
      found.tokenHash === hash ||
      (found.previousValidUntil !== null && Date.parse(found.previousValidUntil) > now);
    const label = found.kind === 'api_key' ? 'api_key' : 'management_token';
    const actor: Actor = { workspaceId: found.workspaceId, actor: 'system', ip };
    const revoked =
      secretWorks &&
      (await store.transaction(async (tx) => {
        const current = await tx.managementTokens.get(found.workspaceId, found.id);
        if (!current || current.revokedAt !== null) return false;
        await tx.managementTokens.markRevoked(found.workspaceId, found.id, new Date(now).toISOString());
        await recordAdminAction(tx, clock, actor, `${label}.revoke`, found.id, {
          reason: 'leak_report',
          ...source,
        });
        return true;
      }));
    await bus.publishInvalidation({ kind: 'management_token', workspaceId: found.workspaceId, id: found.id });
    const live = revoked && (found.expiresAt === null || Date.parse(found.expiresAt) > now);
    await this.#raise(found.workspaceId, found.id, label, token, source, revoked, live);
    return { found: true };
  }

  async #raise(
    workspaceId: string,
    subject: string,
    tokenKind: string,
    token: string,
    source: Record<string, string>,
    revoked: boolean,
    live: boolean,
  ): Promise<void> {
    await this.#deps.raise({
      workspaceId,
      kind: 'leaked_token',
      // A live token in public is an open door; a dead one is a warning about its holder.
      severity: live ? 'critical' : 'high',
      subject,
      detail: {
        token_kind: tokenKind,
        token_prefix: displayPrefix(token),
        revoked_now: revoked,
        ...source,
      },
    });
  }
}
