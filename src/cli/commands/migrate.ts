import { openStore } from '../../adapters/db/open-store.ts';
import { SetupError } from '../../app.ts';
import { type CommandSpec, DATA_DIR_OPTION, type GroupSpec, JSON_OPTION } from '../command.ts';
import { assertInstalled, cliConfig } from '../install.ts';

/**
 * Schema migrations straight on the store: `--status` must look without
 * migrating (opening the whole install would migrate), and applying needs no
 * master key. The store takes a lock while migrating (an advisory lock on
 * PostgreSQL), so several nodes may run this, or start, at once.
 */
const migrate: CommandSpec = {
  name: '',
  summary: 'Apply pending database migrations, or list them with --status',
  options: {
    status: { type: 'boolean', help: 'List pending migrations; change nothing.' },
    ...DATA_DIR_OPTION,
    ...JSON_OPTION,
  },
  notes: '"relay start" also migrates on start-up; this command lets you do it ahead of a rollout.',
  async run({ io, out, flags }) {
    const config = cliConfig(io.env, flags);
    assertInstalled(config);
    const store = openStore(config.databaseUrl, config.dataDir);
    try {
      if (!(await store.isInitialised()))
        throw new SetupError('the database is empty: run "relay init" first');
      if (flags.bool('status')) {
        const pending = await store.pendingMigrations();
        if (flags.bool('json')) out.json({ pending });
        else if (pending.length === 0) out.line('No pending migrations: the schema is up to date.');
        else for (const name of pending) out.line(`pending  ${name}`);
        return 0;
      }
      const { applied } = await store.migrate();
      if (flags.bool('json')) out.json({ applied });
      else if (applied.length === 0) out.line('Nothing to apply: the schema is up to date.');
      else for (const name of applied) out.line(`applied  ${name}`);
      return 0;
    } finally {
      await store.close();
    }
  },
};

export const migrateGroup: GroupSpec = { name: 'migrate', summary: migrate.summary, commands: [migrate] };
