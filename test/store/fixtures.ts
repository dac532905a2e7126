import { newId } from '../../src/core/ids.ts';
import type {
  AdminAuditEvent,
  Connection,
  Credential,
  ManagementToken,
  Recipient,
  Workspace,
} from '../../src/core/model.ts';
import { issueToken } from '../../src/core/tokens.ts';
import { DEFAULT_WORKSPACE_SETTINGS } from '../../src/services/workspaces.ts';

/** Record factories for store tests: valid by default, any field overridable. */

export const AT = '2030-01-01T00:00:00.000Z';

export const workspace = (over: Partial<Workspace> = {}): Workspace => ({
  id: newId('workspace'),
  name: 'ws',
  settings: DEFAULT_WORKSPACE_SETTINGS,
  createdAt: AT,
  ...over,
});

export const connection = (workspaceId: string, over: Partial<Connection> = {}): Connection => ({
  workspaceId,
  id: newId('connection'),
  name: 'HubSpot',
  baseUrl: 'https://api.hubapi.com',
  authType: 'header',
  authConfig: { header_name: 'x-api-key' },
  secretSealed: `v1.0000000000000000.${newId('connection')}.sealed`,
  secretLast4: 'abcd',
  preset: null,
  options: { log_query_strings: false, secret_scanning: 'off', allow_insecure_upstream: false },
  createdAt: AT,
  updatedAt: AT,
  ...over,
});

export const recipient = (workspaceId: string, over: Partial<Recipient> = {}): Recipient => ({
  workspaceId,
  id: newId('recipient'),
  name: 'Ada',
  kind: 'human',
  email: 'ada@example.com',
  createdAt: AT,
  revokedAt: null,
  ...over,
});

export const credential = (workspaceId: string, over: Partial<Credential> = {}): Credential => {
  const issued = issueToken('proxy');
  return {
    workspaceId,
    id: newId('credential'),
    recipientId: null,
    name: 'cred',
    tokenHash: issued.hash,
    tokenPrefix: issued.displayPrefix,
    grants: [
      {
        connection_id: 'conn_hubspot',
        allowed_methods: ['GET'],
        allowed_paths: ['/**'],
        deny_query_params: [],
      },
    ],
    expiresAt: null,
    ipMode: 'none',
    ipAllowlist: [],
    policies: {},
    rateLimitProfile: null,
    review: [],
    createdBy: 'test',
    createdAt: AT,
    revokedAt: null,
    lastUsedAt: null,
    ...over,
  };
};

export const managementToken = (
  workspaceId: string,
  over: Partial<ManagementToken> = {},
): ManagementToken => {
  const issued = issueToken('management');
  return {
    workspaceId,
    id: newId('managementToken'),
    name: 'admin',
    role: 'admin',
    tokenHash: issued.hash,
    tokenPrefix: issued.displayPrefix,
    expiresAt: null,
    ipAllowlist: [],
    kind: 'token',
    scopes: [],
    previousTokenHash: null,
    previousValidUntil: null,
    policies: {},
    apiScope: null,
    bounds: null,
    createdBy: 'test',
    createdAt: AT,
    revokedAt: null,
    lastUsedAt: null,
    ...over,
  };
};

export const adminAudit = (workspaceId: string, over: Partial<AdminAuditEvent> = {}): AdminAuditEvent => ({
  workspaceId,
  id: newId('adminAudit'),
  at: AT,
  actor: 'mtok_test',
  action: 'connection.create',
  subject: 'conn_hubspot',
  metadata: { name: 'HubSpot' },
  ip: '127.0.0.1',
  ...over,
});

/** `n` timestamps, some repeated, so pagination has ties to break by id. */
export function timestamps(n: number): string[] {
  return Array.from({ length: n }, (_, i) =>
    new Date(Date.parse(AT) + Math.floor(i / 3) * 1000).toISOString(),
  );
}
