import { trustedIpView } from '../../planes/management/routes/trusted-ips.ts';
import { type CommandSpec, type GroupSpec, OPERATOR_OPTIONS } from '../command.ts';
import { withOperator } from '../install.ts';

const list: CommandSpec = {
  name: 'list',
  summary: "Networks a recipient's new-IP confirmation trusts",
  args: ['RECIPIENT_ID'],
  options: OPERATOR_OPTIONS,
  run: (ctx) =>
    withOperator(ctx, async ({ relay, workspaceId }) => {
      const views = (await relay.ipConfirmations.listTrusted(workspaceId, ctx.args[0] as string)).map(
        trustedIpView,
      );
      if (ctx.flags.bool('json')) ctx.out.json(views);
      else
        ctx.out.table(
          views,
          [
            ['ip_group', 'NETWORK'],
            ['first_ip', 'FIRST IP'],
            ['source', 'SOURCE'],
            ['created_at', 'SINCE'],
          ],
          'No trusted networks: the next IP this recipient calls from is trusted on first use, unless one was trusted before.',
        );
      return 0;
    }),
};

const remove: CommandSpec = {
  name: 'remove',
  summary: 'Stop trusting a network: its next call gets 423 and a new confirmation mail',
  args: ['RECIPIENT_ID', 'IP'],
  options: OPERATOR_OPTIONS,
  notes: 'IP is an address in the network (an IPv6 address stands for its /64) or the network as listed.',
  run: (ctx) =>
    withOperator(ctx, async ({ relay, actor }) => {
      const [recipientId, ip] = ctx.args as [string, string];
      const removed = await relay.ipConfirmations.removeTrusted(actor, recipientId, ip);
      if (ctx.flags.bool('json')) ctx.out.json({ recipient_id: recipientId, ip_group: removed });
      else ctx.out.line(`Recipient ${recipientId} no longer trusts ${removed}.`);
      return 0;
    }),
};

export const trustedIpsGroup: GroupSpec = {
  name: 'trusted-ips',
  summary: 'Networks trusted by new-IP confirmation, per recipient',
  commands: [list, remove],
};
