import { createLogger } from '../../logger.ts';
import { runUntilSignalled, startRelay } from '../../main.ts';
import { printAdminBanner } from '../banner.ts';
import { type CommandSpec, DATA_DIR_OPTION, type GroupSpec } from '../command.ts';
import { cliConfig } from '../install.ts';

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

const start: CommandSpec = {
  name: '',
  summary: 'Run Relay (initialising an empty data dir first) until SIGINT/SIGTERM',
  options: { ...DATA_DIR_OPTION },
  notes: [
    'Settings come from RELAY_* environment variables (see "relay config docs").',
    'Logs are JSON lines on stdout. On an empty data dir the admin token banner is printed once.',
    'SIGINT/SIGTERM drain in-flight requests, flush the audit queue and exit 0.',
  ].join('\n'),
  async run({ io, out, flags }) {
    const config = cliConfig(io.env, flags);
    // A signal that arrives while starting must stop Relay gracefully too, not kill it
    // with the default action before runUntilSignalled has installed its handlers.
    let early: string | undefined;
    const onEarly = (signal: string) => {
      early ??= signal;
    };
    const removeEarly = () => {
      for (const s of SIGNALS) process.off(s, onEarly);
    };
    for (const s of SIGNALS) process.on(s, onEarly);
    let running: Awaited<ReturnType<typeof startRelay>>;
    try {
      running = await startRelay(config, createLogger(config.logLevel, io.stdout));
    } catch (error) {
      removeEarly();
      throw error;
    }
    if (running.bootstrap) {
      printAdminBanner(out, {
        workspaceId: running.bootstrap.workspaceId,
        adminToken: running.bootstrap.adminToken,
        masterKeyFile: config.masterKey === '' ? config.masterKeyFile : null,
      });
    }
    if (early !== undefined) {
      removeEarly();
      running.relay.logger.info({ signal: early }, 'shutting down');
      await running.close();
      return 0;
    }
    // Install the real handlers before removing the early ones, so no signal finds none.
    const stopped = runUntilSignalled(running);
    removeEarly();
    await stopped;
    return 0;
  },
};

export const startGroup: GroupSpec = { name: 'start', summary: start.summary, commands: [start] };
