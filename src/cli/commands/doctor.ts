import type { RelayConfig } from '../../config.ts';
import {
  type CommandSpec,
  DATA_DIR_OPTION,
  type Env,
  type Flags,
  type GroupSpec,
  JSON_OPTION,
} from '../command.ts';
import { describeError } from '../errors.ts';
import { cliConfig } from '../install.ts';
import {
  type Check,
  dataDirCheck,
  masterKeySourceCheck,
  portChecks,
  privateUpstreamsCheck,
  storeChecks,
} from './doctor-checks.ts';

async function runChecks(env: Env, flags: Flags): Promise<Check[]> {
  let config: RelayConfig;
  try {
    config = cliConfig(env, flags);
  } catch (error) {
    return [{ name: 'config', status: 'fail', detail: describeError(error) }];
  }
  const store = config.databaseUrl === '' ? 'embedded sqlite' : config.databaseUrl.split(':')[0];
  return [
    { name: 'config', status: 'ok', detail: `parsed; store ${store}` },
    dataDirCheck(config),
    masterKeySourceCheck(config),
    ...(await storeChecks(config)),
    ...(await portChecks(config)),
    privateUpstreamsCheck(config),
  ];
}

const LABEL = { ok: 'ok', warn: 'WARN', fail: 'FAIL' } as const;

const doctor: CommandSpec = {
  name: '',
  summary: 'Check config, data dir, master key, database, migrations and ports',
  options: { ...DATA_DIR_OPTION, ...JSON_OPTION },
  notes: 'Exits 1 when any check fails. Never prints a secret: keys are named by key id only.',
  async run({ io, out, flags }) {
    const checks = await runChecks(io.env, flags);
    const failed = checks.filter((c) => c.status === 'fail').length;
    const warned = checks.filter((c) => c.status === 'warn').length;
    if (flags.bool('json')) {
      out.json({ ok: failed === 0, checks });
    } else {
      out.table(
        checks.map((c) => ({ ...c, status: LABEL[c.status] })),
        [
          ['status', 'STATUS'],
          ['name', 'CHECK'],
          ['detail', 'DETAIL'],
        ],
        'no checks ran',
      );
      out.line();
      out.line(failed + warned === 0 ? 'All checks passed.' : `${failed} failed, ${warned} warning(s).`);
    }
    return failed === 0 ? 0 : 1;
  },
};

export const doctorGroup: GroupSpec = { name: 'doctor', summary: doctor.summary, commands: [doctor] };
