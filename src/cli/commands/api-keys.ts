import { apiKeyView } from '../../planes/management/present.ts';
import { type CommandSpec, type GroupSpec, OPERATOR_OPTIONS } from '../command.ts';
import { allPages, withOperator } from '../install.ts';

const list: CommandSpec = {
  name: 'list',
  summary: 'List live API keys (seed 003 shape; never the keys themselves)',
  options: OPERATOR_OPTIONS,
  run: (ctx) =>
    withOperator(ctx, async ({ relay, workspaceId }) => {
      const rows = await allPages((o) => relay.services.tokens.list(workspaceId, { ...o, kind: 'api_key' }));
      const views = rows.filter((t) => t.revokedAt === null).map(apiKeyView);
      if (ctx.flags.bool('json')) ctx.out.json(views);
      else
        ctx.out.table(
          views.map((v) => ({ ...v, scopes: v.scopes.join(' ') || '(full access)' })),
          [
            ['id', 'ID'],
            ['name', 'NAME'],
            ['key_prefix', 'PREFIX'],
            ['scopes', 'SCOPES'],
            ['expires_at', 'EXPIRES'],
            ['last_used_at', 'LAST USED'],
          ],
          'No API keys.',
        );
      return 0;
    }),
};

const add: CommandSpec = {
  name: 'add',
  summary: 'Create an API key for X-API-Key (returned once)',
  options: {
    name: { type: 'string', value: 'NAME', help: 'What the key is for (required).' },
    'expires-at': { type: 'string', value: 'ISO', help: 'Expiry as an RFC 3339 date-time.' },
    scope: {
      type: 'string',
      multiple: true,
      value: 'SCOPE',
      help: 'Repeatable: <resource>:<read|write|*> or *; none means full access.',
    },
    ...OPERATOR_OPTIONS,
  },
  run: (ctx) => {
    const name = ctx.flags.required('name');
    const expiresAt = ctx.flags.string('expires-at');
    const scopes = ctx.flags.list('scope');
    return withOperator(ctx, async ({ relay, actor }) => {
      const { record, token } = await relay.services.tokens.create(actor, {
        name,
        role: 'admin',
        kind: 'api_key',
        scopes,
        ...(expiresAt === undefined ? {} : { expires_at: expiresAt }),
      });
      const view = { ...apiKeyView(record), key: token };
      if (ctx.flags.bool('json')) ctx.out.json(view);
      else {
        ctx.out.line(
          `Created API key ${view.id} ("${view.name}"), scopes: ${view.scopes.join(' ') || 'full access'}.`,
        );
        ctx.out.line('Key (shown this once):');
        ctx.out.line(`  ${token}`);
      }
      return 0;
    });
  },
};

const revoke: CommandSpec = {
  name: 'revoke',
  summary: 'Revoke an API key at once',
  args: ['ID'],
  options: OPERATOR_OPTIONS,
  run: (ctx) =>
    withOperator(ctx, async ({ relay, actor }) => {
      const record = await relay.services.tokens.revoke(actor, ctx.args[0] as string, 'api_key');
      if (ctx.flags.bool('json')) ctx.out.json({ ...apiKeyView(record), revoked_at: record.revokedAt });
      else ctx.out.line(`Revoked API key ${record.id} (${record.name}).`);
      return 0;
    }),
};

export const apiKeysGroup: GroupSpec = {
  name: 'api-keys',
  summary: 'API keys for the X-API-Key header (seed 003)',
  commands: [list, add, revoke],
};
