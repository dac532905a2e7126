import { once } from 'node:events';
import { createWriteStream, openSync } from 'node:fs';
import type { Relay } from '../../app.ts';
import type { AuditFilter } from '../../core/audit.ts';
import { auditView, EXPORT_FORMATS, exportAudit } from '../../services/audit-export.ts';
import { type PruneReport, pruneAudit } from '../../services/audit-retention.ts';
import { tailAudit } from '../../services/audit-tail.ts';
import { auditChainIds, type ChainReport, verifyAuditChain } from '../../services/audit-verify.ts';
import {
  type CommandContext,
  type CommandSpec,
  DATA_DIR_OPTION,
  type GroupSpec,
  JSON_OPTION,
  OPERATOR_OPTIONS,
  type OptionSpecs,
} from '../command.ts';
import { UsageError } from '../errors.ts';
import { cliConfig, openExisting, withOperator } from '../install.ts';
import type { Output } from '../output.ts';

/**
 * The proxy audit log from the server's side (SPEC §7): verify its hash chains,
 * prune it by retention, export it, follow it. Every command reads the
 * database directly, so it works whether or not Relay is running.
 */

const ALL_CHAINS_OPTIONS: OptionSpecs = {
  ...DATA_DIR_OPTION,
  workspace: {
    type: 'string',
    value: 'ID',
    help: "Only this workspace's chain (default: every workspace's, and the unattributed records').",
  },
  ...JSON_OPTION,
};

const label = (workspaceId: string) => (workspaceId === '' ? '(unattributed)' : workspaceId);

/** Runs `work` on each chain asked for: one workspace's, or all of them. */
async function eachChain<T>(
  ctx: CommandContext,
  work: (relay: Relay, ids: readonly string[]) => Promise<T>,
): Promise<T> {
  const relay = await openExisting(cliConfig(ctx.io.env, ctx.flags));
  try {
    const only = ctx.flags.string('workspace');
    if (only !== undefined) await relay.services.workspaces.get(only);
    const ids = only === undefined ? await auditChainIds(relay.store.audit, relay.store.workspaces) : [only];
    return await work(relay, ids);
  } finally {
    await relay.close();
  }
}

function chainView(r: ChainReport) {
  return {
    workspace_id: r.workspaceId,
    ok: r.ok,
    checked: r.checked,
    anchor: r.anchor,
    head: r.head,
    break: r.break,
    unchained: r.unchained,
  };
}

function printChain(out: Output, r: ChainReport): void {
  const start = r.anchor === null ? '' : `, from the prune anchor at ${r.anchor.seq}`;
  const legacy = r.unchained > 0 ? `; ${r.unchained} older record(s) predate the chain` : '';
  if (r.break === null) {
    const span = r.head === null ? 'empty' : `${r.checked} record(s) up to ${r.head.seq}${start}`;
    out.line(`${label(r.workspaceId)}: ok, ${span}${legacy}`);
    return;
  }
  const b = r.break;
  out.line(
    `${label(r.workspaceId)}: BROKEN: ${b.kind} at seq ${b.seq}${b.id === null ? '' : ` (id ${b.id})`}: ${b.detail}`,
  );
}

const verify: CommandSpec = {
  name: 'verify',
  summary: 'Walk the hash chains; report the first deleted, altered or reordered record (exit 1 if any)',
  options: ALL_CHAINS_OPTIONS,
  notes: [
    'Each workspace has its own chain; records no workspace could be attributed to have one too.',
    'A chain is walked from its last prune anchor up to its head as it stood when the walk began.',
    'No key is needed: the chain covers the records as stored, sealed fields included.',
  ].join('\n'),
  run: (ctx) =>
    eachChain(ctx, async (relay, ids) => {
      const reports: ChainReport[] = [];
      for (const id of ids) reports.push(await verifyAuditChain(relay.store.audit, id));
      const ok = reports.every((r) => r.ok);
      if (ctx.flags.bool('json')) ctx.out.json({ ok, chains: reports.map(chainView) });
      else for (const r of reports) printChain(ctx.out, r);
      return ok ? 0 : 1;
    }),
};

function pruneView(r: PruneReport) {
  return {
    workspace_id: r.workspaceId,
    retention_days: r.retentionDays,
    cutoff: r.cutoff,
    deleted: r.deleted + r.deletedUnchained,
    anchor: r.anchor,
    stopped_at: r.stoppedAt,
  };
}

const prune: CommandSpec = {
  name: 'prune',
  summary: "Delete records older than each workspace's audit_retention_days now (the server does it hourly)",
  options: ALL_CHAINS_OPTIONS,
  notes: [
    'The chain stays verifiable: its anchor moves to the last record deleted. A prune never goes past',
    'a break in the chain (exit 1): run "relay audit verify" and look at it first.',
  ].join('\n'),
  run: (ctx) =>
    eachChain(ctx, async (relay, ids) => {
      const reports: PruneReport[] = [];
      for (const workspaceId of ids)
        reports.push(...(await pruneAudit(relay.store, relay.clock, { workspaceId })));
      if (ctx.flags.bool('json')) ctx.out.json(reports.map(pruneView));
      else
        for (const r of reports) {
          const deleted = r.deleted + r.deletedUnchained;
          const anchor = r.anchor === null ? '' : `; chain anchored at ${r.anchor.seq}`;
          const stop =
            r.stoppedAt === null ? '' : `; STOPPED at a ${r.stoppedAt.kind} record, seq ${r.stoppedAt.seq}`;
          ctx.out.line(
            `${label(r.workspaceId)}: ${deleted} record(s) older than ${r.cutoff} deleted${anchor}${stop}`,
          );
        }
      return reports.every((r) => r.stoppedAt === null) ? 0 : 1;
    }),
};

const FILTER_OPTIONS: OptionSpecs = {
  credential: { type: 'string', value: 'ID', help: 'Only requests made with this credential.' },
  recipient: { type: 'string', value: 'ID', help: "Only this recipient's requests." },
  connection: { type: 'string', value: 'ID', help: 'Only requests to this connection.' },
  decision: { type: 'string', value: 'allowed|blocked', help: 'Only allowed or only blocked requests.' },
  status: { type: 'string', value: 'CODE', help: 'Only requests answered with this HTTP status.' },
  since: { type: 'string', value: 'TIME', help: 'From this time on (ISO 8601).' },
  until: { type: 'string', value: 'TIME', help: 'Before this time (ISO 8601).' },
};

function timeOption(ctx: CommandContext, name: string): string | undefined {
  const text = ctx.flags.string(name);
  if (text === undefined) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) throw new UsageError(`--${name} must be a time (ISO 8601)`);
  return new Date(at).toISOString();
}

function filterOf(ctx: CommandContext): AuditFilter {
  const status = ctx.flags.string('status');
  if (status !== undefined && !/^[1-5]\d\d$/.test(status))
    throw new UsageError('--status must be an HTTP status');
  const since = timeOption(ctx, 'since');
  const until = timeOption(ctx, 'until');
  if (since !== undefined && until !== undefined && since >= until)
    throw new UsageError('--since must be before --until');
  return {
    credentialId: ctx.flags.string('credential'),
    recipientId: ctx.flags.string('recipient'),
    connectionId: ctx.flags.string('connection'),
    decision: ctx.flags.oneOf('decision', ['allowed', 'blocked'] as const),
    status: status === undefined ? undefined : Number(status),
    since,
    until,
  };
}

/** Writes with backpressure: a slow pipe (`| less`) holds the next page back. */
async function writeAll(sink: NodeJS.WritableStream, text: string): Promise<void> {
  if (!sink.write(text)) await once(sink, 'drain');
}

const exportCommand: CommandSpec = {
  name: 'export',
  summary: 'Every matching record in the order recorded, as JSON Lines or CSV',
  options: {
    format: { type: 'string', value: 'jsonl|csv', help: 'Output format (default jsonl).' },
    output: {
      type: 'string',
      value: 'FILE',
      help: 'Write to FILE (created with mode 0600) instead of stdout.',
    },
    ...FILTER_OPTIONS,
    ...OPERATOR_OPTIONS,
  },
  notes: 'CSV has a header row; fields with commas, quotes or line breaks are quoted (RFC 4180).',
  run: (ctx) => {
    const format = ctx.flags.oneOf('format', EXPORT_FORMATS) ?? 'jsonl';
    const filter = filterOf(ctx);
    return withOperator(ctx, async ({ relay, workspaceId }) => {
      const path = ctx.flags.string('output');
      // Opened here, so that an existing file or a bad path fails before anything is read.
      const sink =
        path === undefined ? ctx.io.stdout : createWriteStream('', { fd: openSync(path, 'wx', 0o600) });
      for await (const chunk of exportAudit(relay.store.audit, workspaceId, filter, format))
        await writeAll(sink, chunk);
      if (path !== undefined) {
        sink.end();
        await once(sink, 'finish');
      }
      return 0;
    });
  },
};

function positiveInteger(ctx: CommandContext, name: string): number | undefined {
  const text = ctx.flags.string(name);
  if (text === undefined) return undefined;
  if (!/^\d{1,15}$/.test(text)) throw new UsageError(`--${name} must be a whole number`);
  return Number(text);
}

const tail: CommandSpec = {
  name: 'tail',
  summary: 'Print new records as they are written, until interrupted',
  options: {
    'after-seq': {
      type: 'string',
      value: 'N',
      help: "Start after this position in the workspace's chain (default: now).",
    },
    count: { type: 'string', value: 'N', help: 'Stop after N records.' },
    ...OPERATOR_OPTIONS,
  },
  notes: 'With --json, one JSON object per line (with its "seq"). Works against any node of a cluster.',
  run: (ctx) => {
    const afterSeq = positiveInteger(ctx, 'after-seq');
    const count = positiveInteger(ctx, 'count');
    if (count === 0) throw new UsageError('--count must be at least 1');
    return withOperator(ctx, async ({ relay, workspaceId }) => {
      const stop = new AbortController();
      const interrupt = () => stop.abort();
      process.once('SIGINT', interrupt);
      process.once('SIGTERM', interrupt);
      let printed = 0;
      try {
        const options = afterSeq === undefined ? { signal: stop.signal } : { signal: stop.signal, afterSeq };
        for await (const batch of tailAudit(relay.store.audit, workspaceId, options)) {
          for (const { seq, record } of batch) {
            const v = auditView(record);
            const line = ctx.flags.bool('json')
              ? JSON.stringify({ seq, ...v })
              : [v.at, seq, v.decision, v.status, v.method, v.path, v.ip, v.credential_id ?? '-'].join('  ');
            await writeAll(ctx.io.stdout, `${line}\n`);
            if (count !== undefined && ++printed >= count) stop.abort();
            if (stop.signal.aborted) break;
          }
        }
      } finally {
        process.off('SIGINT', interrupt);
        process.off('SIGTERM', interrupt);
      }
      return 0;
    });
  },
};

export const auditGroup: GroupSpec = {
  name: 'audit',
  summary: 'The proxy audit log: verify its hash chains, prune, export, tail',
  commands: [verify, prune, exportCommand, tail],
};
