import type { PolicyResult, ProxyPolicy } from '../policy.ts';
import type { WorkspaceSettingsCache } from '../workspace-settings.ts';
import { withWorkspaceSettings } from './workspace-ip.ts';

const LOCKED: PolicyResult = {
  code: 'workspace_locked',
  detail:
    'the workspace is in lockdown after repeated critical security events; an admin must resolve them and lift it',
};

/**
 * Workspace lockdown (SPEC §4 step 3, first of the policies; §8 auto-lockdown):
 * while `settings.lockdown.locked`, every call of the workspace is refused with
 * 403 `workspace_locked` before any other rule is looked at. Read from the
 * settings cache (synchronous when warm); locking drops the cache through the
 * bus, so the refusal starts with the next request on every node.
 */
export function workspaceLockdown(cache: WorkspaceSettingsCache): ProxyPolicy {
  return {
    name: 'workspace-lockdown',
    check({ entry }) {
      return withWorkspaceSettings(cache, entry.credential.workspaceId, (settings) =>
        settings.lockdown?.locked === true ? LOCKED : undefined,
      );
    },
  };
}
