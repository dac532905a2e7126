import {
  generateMasterKey,
  type Keyring,
  keyIdFor,
  keyringFromEnv,
  LocalKeyProvider,
  readKeyFile,
  writeKeyFile,
} from '../../adapters/local-key/local-key-provider.ts';
import type { Relay } from '../../app.ts';
import type { RelayConfig } from '../../config.ts';
import { rewrapAll } from '../../services/bootstrap.ts';
import { type CommandSpec, DATA_DIR_OPTION, type GroupSpec, JSON_OPTION } from '../command.ts';
import { CliFailure, describeError } from '../errors.ts';
import { cliConfig, openExisting } from '../install.ts';
import type { Output } from '../output.ts';

/**
 * Master-key rotation (SPEC §9). Data keys are re-wrapped under the new
 * key-encryption key in one transaction; the sealed values themselves are not
 * re-encrypted, so it is quick and all-or-nothing. Key bytes are never printed
 * except by `keys generate`, whose whole job is to print one.
 */

interface RotationReport {
  readonly mode: 'file' | 'env';
  readonly primary_key_id: string;
  readonly retired_key_ids: readonly string[];
  readonly rewrapped: number;
  readonly total: number;
  readonly key_file: string | null;
  readonly old_keys_kept: boolean;
}

const others = (ring: Keyring, primary: string) => [...ring.keys.keys()].filter((id) => id !== primary);

async function rewrapOrExplain(relay: Relay, ring: Keyring, after: string) {
  try {
    return await rewrapAll(relay.store, new LocalKeyProvider(ring));
  } catch (error) {
    throw new CliFailure(`re-wrapping failed and was rolled back (${describeError(error)}); ${after}`);
  }
}

async function rotateFile(relay: Relay, config: RelayConfig, keepOld: boolean): Promise<RotationReport> {
  const path = config.masterKeyFile;
  const current = readKeyFile(path);
  const fresh = generateMasterKey();
  const freshId = keyIdFor(fresh);
  // Both keys first, so any node that re-reads the file can open old and new data alike.
  writeKeyFile(path, [fresh, ...current.keys.values()]);
  const ring: Keyring = { primary: freshId, keys: new Map([[freshId, fresh], ...current.keys]) };
  const result = await rewrapOrExplain(
    relay,
    ring,
    `the key file keeps the old key(s) after the new one, so nothing is lost; run "relay keys rotate-master" again`,
  );
  if (!keepOld) writeKeyFile(path, [fresh]);
  return {
    mode: 'file',
    primary_key_id: freshId,
    retired_key_ids: [...current.keys.keys()],
    ...result,
    key_file: path,
    old_keys_kept: keepOld,
  };
}

async function rotateEnv(relay: Relay, config: RelayConfig): Promise<RotationReport> {
  const ring = keyringFromEnv(config.masterKey);
  if (ring.keys.size < 2) {
    throw new CliFailure(
      'RELAY_MASTER_KEY holds a single key, so there is nothing to rotate to: generate one with ' +
        '"relay keys generate", set RELAY_MASTER_KEY=<new>,<old> (new first) on every node, restart them, ' +
        'then run "relay keys rotate-master" again',
    );
  }
  const result = await rewrapOrExplain(relay, ring, 'RELAY_MASTER_KEY still opens everything; try again');
  return {
    mode: 'env',
    primary_key_id: ring.primary,
    retired_key_ids: others(ring, ring.primary),
    ...result,
    key_file: null,
    old_keys_kept: true,
  };
}

function printReport(out: Output, r: RotationReport): void {
  out.line(`Re-wrapped ${r.rewrapped} of ${r.total} sealed value(s) under master key ${r.primary_key_id}.`);
  const retired = r.retired_key_ids.join(', ') || '(none)';
  if (r.mode === 'env') {
    out.line(`Nothing uses the old key(s) ${retired} any more: set RELAY_MASTER_KEY to the first key alone`);
    out.line('on every node and restart them.');
  } else if (r.old_keys_kept) {
    out.line(`The key file ${r.key_file} holds the new key first and the old key(s) ${retired} after it.`);
    out.line('Once every node has restarted, run "relay keys prune" to drop the old key(s).');
  } else {
    out.line(`The key file ${r.key_file} now holds only key ${r.primary_key_id}; removed: ${retired}.`);
  }
  if (r.mode === 'file')
    out.line('Back up the new key file now: older backups of it no longer open this data.');
}

const ROTATE_NOTES = [
  'Key file (RELAY_MASTER_KEY empty): generates a new key, writes the key file atomically with the',
  'new key first and the old key(s) after it (nodes that re-read it can open both), re-wraps every',
  'data key under the new key in one transaction, then rewrites the file with only the new key,',
  'unless --keep-old. If Relay is running while you rotate, pass --keep-old, restart every node,',
  'then run "relay keys prune": a running node keeps sealing new data with the key it started with.',
  '',
  'RELAY_MASTER_KEY: first run "relay keys generate" and set RELAY_MASTER_KEY=<new>,<old> (new',
  'first) on every node and restart them; rotate-master then re-wraps everything under the first',
  'key, after which the old key can be dropped from the variable. With a single key it refuses.',
  '',
  'The install is opened without creating anything and the master key is verified first.',
].join('\n');

const rotateMaster: CommandSpec = {
  name: 'rotate-master',
  summary: 'Re-wrap every data key under a new master key',
  options: {
    'keep-old': {
      type: 'boolean',
      help: 'Key file mode: keep the old key(s) in the file after the new one.',
    },
    ...DATA_DIR_OPTION,
    ...JSON_OPTION,
  },
  notes: ROTATE_NOTES,
  async run({ io, out, flags }) {
    const config = cliConfig(io.env, flags);
    const relay = await openExisting(config);
    try {
      const report =
        config.masterKey === ''
          ? await rotateFile(relay, config, flags.bool('keep-old') === true)
          : await rotateEnv(relay, config);
      if (flags.bool('json')) out.json(report);
      else printReport(out, report);
      return 0;
    } finally {
      await relay.close();
    }
  },
};

const prune: CommandSpec = {
  name: 'prune',
  summary: 'Key file mode: re-wrap anything left under old keys, then drop them from the key file',
  options: { ...DATA_DIR_OPTION, ...JSON_OPTION },
  notes: 'Run it after "rotate-master --keep-old" once every node has restarted with the new key file.',
  async run({ io, out, flags }) {
    const config = cliConfig(io.env, flags);
    if (config.masterKey !== '') {
      throw new CliFailure(
        'RELAY_MASTER_KEY is set: run "relay keys rotate-master", then remove the old key(s) from the variable',
      );
    }
    const relay = await openExisting(config);
    try {
      const ring = readKeyFile(config.masterKeyFile);
      const result = await rewrapOrExplain(relay, ring, 'the key file was not changed');
      writeKeyFile(config.masterKeyFile, [ring.keys.get(ring.primary) as Buffer]);
      const report: RotationReport = {
        mode: 'file',
        primary_key_id: ring.primary,
        retired_key_ids: others(ring, ring.primary),
        ...result,
        key_file: config.masterKeyFile,
        old_keys_kept: false,
      };
      if (flags.bool('json')) out.json(report);
      else printReport(out, report);
      return 0;
    } finally {
      await relay.close();
    }
  },
};

const generate: CommandSpec = {
  name: 'generate',
  summary: 'Print a fresh random master key (base64, 32 bytes) and nothing else',
  options: {},
  notes: 'For RELAY_MASTER_KEY: KEY=$(relay keys generate). Nothing is stored.',
  async run({ out }) {
    out.line(generateMasterKey().toString('base64'));
    return 0;
  },
};

export const keysGroup: GroupSpec = {
  name: 'keys',
  summary: 'Master key: rotate, prune old keys, generate',
  commands: [rotateMaster, prune, generate],
};
