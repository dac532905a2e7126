import { RelayError, unwrap } from '../core/errors.ts';
import type { Actor, Workspace, WorkspaceSettings } from '../core/model.ts';
import { checkGeoRules } from '../core/policies.ts';
import { checkCustomProfiles, checkRateProfileName } from '../core/rate-limit.ts';
import { recordAdminAction } from './admin-audit.ts';
import { checkIpAllowlist } from './credentials.ts';
import type { ServiceDeps } from './deps.ts';

export const DEFAULT_WORKSPACE_SETTINGS: WorkspaceSettings = Object.freeze({
  require_2fa: false,
  audit_retention_days: 90,
  default_rate_limit_profile: null,
  default_ip_mode: 'confirm_new_ip',
});

export const RETENTION_DAYS = [7, 30, 90, 365] as const;

export class WorkspaceService {
  readonly #deps: ServiceDeps;

  constructor(deps: ServiceDeps) {
    this.#deps = deps;
  }

  async get(id: string): Promise<Workspace> {
    const workspace = await this.#deps.store.workspaces.get(id);
    if (!workspace) throw new RelayError('not_found', 'workspace not found');
    return workspace;
  }

  async updateSettings(actor: Actor, patch: Partial<WorkspaceSettings>): Promise<Workspace> {
    const { store, clock, bus } = this.#deps;
    if (
      patch.audit_retention_days !== undefined &&
      !(RETENTION_DAYS as readonly number[]).includes(patch.audit_retention_days)
    ) {
      throw new RelayError(
        'validation_failed',
        `audit_retention_days must be one of ${RETENTION_DAYS.join(', ')}`,
      );
    }
    if (patch.ip_allowlist !== undefined) checkIpAllowlist(patch.ip_allowlist);
    const geo = patch.geo === undefined ? undefined : unwrap(checkGeoRules(patch.geo, 'settings.geo'));
    await store.transaction(async (tx) => {
      // Locked: a concurrent writer (auto-lockdown, webhook change) must not be overwritten.
      const current = await tx.workspaces.getForUpdate(actor.workspaceId);
      if (!current) throw new RelayError('not_found', 'workspace not found');
      const next = { ...current.settings, ...patch, ...(geo === undefined ? {} : { geo }) };
      if (patch.rate_limit_profiles !== undefined) unwrap(checkCustomProfiles(patch.rate_limit_profiles));
      if (next.default_rate_limit_profile !== null)
        unwrap(checkRateProfileName(next.default_rate_limit_profile, next));
      await tx.workspaces.updateSettings(actor.workspaceId, next);
      await recordAdminAction(tx, clock, actor, 'workspace.update', actor.workspaceId, {
        changed: Object.keys(patch),
      });
    });
    await bus.publishInvalidation({
      kind: 'workspace',
      workspaceId: actor.workspaceId,
      id: actor.workspaceId,
    });
    return this.get(actor.workspaceId);
  }
}
