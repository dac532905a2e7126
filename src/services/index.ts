import { ConnectionService } from './connections.ts';
import { CredentialService } from './credentials.ts';
import type { ServiceDeps } from './deps.ts';
import { ManagementTokenService } from './management-tokens.ts';
import { RecipientService } from './recipients.ts';
import { WorkspaceService } from './workspaces.ts';

export interface Services {
  readonly deps: ServiceDeps;
  readonly connections: ConnectionService;
  readonly recipients: RecipientService;
  readonly credentials: CredentialService;
  readonly tokens: ManagementTokenService;
  readonly workspaces: WorkspaceService;
}

export function buildServices(deps: ServiceDeps): Services {
  return {
    deps,
    connections: new ConnectionService(deps),
    recipients: new RecipientService(deps),
    credentials: new CredentialService(deps),
    tokens: new ManagementTokenService(deps),
    workspaces: new WorkspaceService(deps),
  };
}
