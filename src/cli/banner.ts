import type { Output } from './output.ts';

export interface AdminBanner {
  readonly workspaceId: string;
  readonly adminToken: string;
  /** Null when the master key comes from RELAY_MASTER_KEY. */
  readonly masterKeyFile: string | null;
}

/** The one time the first admin token is shown (by `relay init`, or `relay start` on an empty data dir). */
export function printAdminBanner(out: Output, banner: AdminBanner): void {
  const rule = '='.repeat(72);
  out.line(rule);
  out.line('Relay is initialised.');
  out.line();
  out.line(`  Workspace:        ${banner.workspaceId}`);
  out.line(`  Admin token:      ${banner.adminToken}`);
  out.line(`  Master key file:  ${banner.masterKeyFile ?? '(none: the key comes from RELAY_MASTER_KEY)'}`);
  out.line();
  out.line('Store the admin token now: it is shown this once and cannot be recovered');
  out.line('(Relay keeps only its hash).');
  if (banner.masterKeyFile !== null) {
    out.line('Back up the master key file separately from the database: without it nothing');
    out.line('in the database can be decrypted, and with it a database dump can be.');
  }
  out.line(rule);
}
