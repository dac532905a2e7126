import { RECIPIENT_KINDS } from '../../core/model.ts';
import { recipientView } from '../../planes/management/present.ts';
import { type CommandSpec, type GroupSpec, OPERATOR_OPTIONS } from '../command.ts';
import { UsageError } from '../errors.ts';
import { allPages, withOperator } from '../install.ts';

const list: CommandSpec = {
  name: 'list',
  summary: 'List recipients',
  options: OPERATOR_OPTIONS,
  run: (ctx) =>
    withOperator(ctx, async ({ relay, workspaceId }) => {
      const views = (await allPages((o) => relay.services.recipients.list(workspaceId, o))).map(
        recipientView,
      );
      if (ctx.flags.bool('json')) ctx.out.json(views);
      else
        ctx.out.table(
          views,
          [
            ['id', 'ID'],
            ['name', 'NAME'],
            ['kind', 'KIND'],
            ['email', 'EMAIL'],
            ['status', 'STATUS'],
            ['created_at', 'CREATED'],
          ],
          'No recipients yet: add one with "relay recipients add".',
        );
      return 0;
    }),
};

const get: CommandSpec = {
  name: 'get',
  summary: 'Show one recipient',
  args: ['ID'],
  options: OPERATOR_OPTIONS,
  run: (ctx) =>
    withOperator(ctx, async ({ relay, workspaceId }) => {
      const view = recipientView(await relay.services.recipients.get(workspaceId, ctx.args[0] as string));
      if (ctx.flags.bool('json')) ctx.out.json(view);
      else ctx.out.record(view);
      return 0;
    }),
};

const add: CommandSpec = {
  name: 'add',
  summary: 'Add a recipient: a person, a service or an agent who gets access',
  options: {
    name: { type: 'string', value: 'NAME', help: 'Display name (required).' },
    kind: { type: 'string', value: 'KIND', help: `${RECIPIENT_KINDS.join(', ')} (required).` },
    email: { type: 'string', value: 'EMAIL', help: 'E-mail address (required for human).' },
    ...OPERATOR_OPTIONS,
  },
  async run(ctx) {
    const name = ctx.flags.required('name');
    const kind = ctx.flags.oneOf('kind', RECIPIENT_KINDS);
    if (kind === undefined) throw new UsageError('--kind is required');
    const email = ctx.flags.string('email');
    return withOperator(ctx, async ({ relay, actor }) => {
      const recipient = await relay.services.recipients.create(actor, {
        name,
        kind,
        ...(email === undefined ? {} : { email }),
      });
      const view = recipientView(recipient);
      if (ctx.flags.bool('json')) ctx.out.json(view);
      else ctx.out.record(view);
      return 0;
    });
  },
};

const revoke: CommandSpec = {
  name: 'revoke',
  summary: 'Revoke a recipient and, at once, every credential it holds',
  args: ['ID'],
  options: OPERATOR_OPTIONS,
  run: (ctx) =>
    withOperator(ctx, async ({ relay, actor }) => {
      const { recipient, revokedCredentials } = await relay.services.recipients.revoke(
        actor,
        ctx.args[0] as string,
      );
      if (ctx.flags.bool('json')) {
        ctx.out.json({ ...recipientView(recipient), revoked_credentials: revokedCredentials });
      } else {
        ctx.out.line(`Revoked recipient ${recipient.id} (${recipient.name}).`);
        ctx.out.line(
          revokedCredentials.length === 0
            ? 'It held no live credentials.'
            : `Revoked ${revokedCredentials.length} credential(s): ${revokedCredentials.join(', ')}`,
        );
      }
      return 0;
    }),
};

export const recipientsGroup: GroupSpec = {
  name: 'recipients',
  summary: 'People, services and agents who receive credentials',
  commands: [list, get, add, revoke],
};
