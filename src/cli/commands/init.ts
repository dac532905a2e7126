import { defaultWorkspaceId, openRelay } from '../../app.ts';
import { createLogger } from '../../logger.ts';
import { printAdminBanner } from '../banner.ts';
import { type CommandSpec, DATA_DIR_OPTION, type GroupSpec, JSON_OPTION } from '../command.ts';
import { cliConfig } from '../install.ts';

const init: CommandSpec = {
  name: '',
  summary: 'Create the data dir, master key file and default workspace; print the admin token once',
  options: { ...DATA_DIR_OPTION, ...JSON_OPTION },
  notes: [
    'Safe to run again: an initialised install is left as it is and no token is printed.',
    'With --json prints {"workspace_id", "admin_token", "master_key_file"}; admin_token is null',
    'when the install already existed, master_key_file is null when RELAY_MASTER_KEY is set.',
  ].join('\n'),
  async run({ io, out, flags }) {
    const config = cliConfig(io.env, flags);
    const { relay, bootstrap } = await openRelay(config, createLogger('silent'), { create: true });
    try {
      const workspaceId = bootstrap?.workspaceId ?? (await defaultWorkspaceId(relay));
      const masterKeyFile = config.masterKey === '' ? config.masterKeyFile : null;
      if (flags.bool('json')) {
        out.json({
          workspace_id: workspaceId,
          admin_token: bootstrap?.adminToken ?? null,
          master_key_file: masterKeyFile,
        });
      } else if (bootstrap) {
        printAdminBanner(out, { workspaceId, adminToken: bootstrap.adminToken, masterKeyFile });
      } else {
        out.line(`Relay is already initialised at ${config.dataDir} (workspace ${workspaceId}).`);
        out.line('No token is printed again. To get a new admin token:');
        out.line('  relay tokens add --name NAME --role admin');
      }
      return 0;
    } finally {
      await relay.close();
    }
  },
};

export const initGroup: GroupSpec = { name: 'init', summary: init.summary, commands: [init] };
