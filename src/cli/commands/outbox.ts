import { outboxMessageView } from '../../planes/management/routes/outbox.ts';
import { type CommandSpec, DATA_DIR_OPTION, type GroupSpec, JSON_OPTION } from '../command.ts';
import { UsageError } from '../errors.ts';
import { cliConfig, openExisting } from '../install.ts';

const MAX_LIMIT = 1000;

function limitOf(text: string | undefined): number {
  if (text === undefined) return 20;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > MAX_LIMIT)
    throw new UsageError(`--limit must be a whole number from 1 to ${MAX_LIMIT}`);
  return n;
}

const show: CommandSpec = {
  name: '',
  summary: 'Mail Relay sent or would have sent, newest first (every workspace)',
  options: {
    limit: { type: 'string', value: 'N', help: 'How many messages (default 20, at most 1000).' },
    workspace: { type: 'string', value: 'ID', help: "Only this workspace's mail (default: all)." },
    ...DATA_DIR_OPTION,
    ...JSON_OPTION,
  },
  notes: [
    'With no SMTP configured (RELAY_SMTP_URL empty), this is where new-IP confirmation links',
    'land. A confirm link is a capability: whoever opens it can trust a network for its',
    'recipient. Forward it only to that person.',
  ].join('\n'),
  async run({ io, out, flags }) {
    const limit = limitOf(flags.string('limit'));
    const workspaceId = flags.string('workspace');
    const relay = await openExisting(cliConfig(io.env, flags));
    try {
      const views = (
        await relay.mailer.list(workspaceId === undefined ? { limit } : { workspaceId, limit })
      ).map(outboxMessageView);
      if (flags.bool('json')) {
        out.json(views);
        return 0;
      }
      if (views.length === 0) {
        out.line('The outbox is empty.');
        return 0;
      }
      for (const [i, m] of views.entries()) {
        if (i > 0) out.line('-'.repeat(72));
        out.line(`${m.id}  ${m.created_at}  ${m.status}${m.error === null ? '' : ` (${m.error})`}`);
        out.line(`To:      ${m.to}`);
        out.line(`Subject: ${m.subject}`);
        out.line();
        out.line(m.text.trimEnd());
      }
      return 0;
    } finally {
      await relay.close();
    }
  },
};

export const outboxGroup: GroupSpec = {
  name: 'outbox',
  summary: 'Outgoing mail (new-IP confirmations), also when no SMTP is configured',
  commands: [show],
};
