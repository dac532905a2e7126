import { MANAGEMENT_ROLES } from '../../core/model.ts';
import { managementTokenView } from '../../planes/management/present.ts';
import { ApiScope, Bounds } from '../../planes/management/schemas.ts';
import type { CreateManagementTokenInput } from '../../services/management-tokens.ts';
import { type CommandSpec, type GroupSpec, OPERATOR_OPTIONS } from '../command.ts';
import { UsageError } from '../errors.ts';
import { allPages, withOperator } from '../install.ts';
import { parseJsonOption } from './json-option.ts';

const list: CommandSpec = {
  name: 'list',
  summary: 'List management tokens (never the tokens themselves)',
  options: OPERATOR_OPTIONS,
  run: (ctx) =>
    withOperator(ctx, async ({ relay, workspaceId }) => {
      const now = relay.clock.now();
      const rows = await allPages((o) => relay.services.tokens.list(workspaceId, o));
      const views = rows.map((t) => managementTokenView(t, now));
      if (ctx.flags.bool('json')) ctx.out.json(views);
      else
        ctx.out.table(
          views.map((v) => ({ ...v, token_prefix: `${v.token_prefix}…` })),
          [
            ['id', 'ID'],
            ['name', 'NAME'],
            ['role', 'ROLE'],
            ['token_prefix', 'TOKEN'],
            ['status', 'STATUS'],
            ['expires_at', 'EXPIRES'],
            ['last_used_at', 'LAST USED'],
          ],
          'No management tokens.',
        );
      return 0;
    }),
};

const add: CommandSpec = {
  name: 'add',
  summary: 'Create a management token (rk_mgmt_…), shown once',
  options: {
    name: { type: 'string', value: 'NAME', help: 'Display name (required).' },
    role: { type: 'string', value: 'ROLE', help: `${MANAGEMENT_ROLES.join(', ')} (required).` },
    'expires-at': { type: 'string', value: 'ISO', help: 'Expiry as an RFC 3339 date-time.' },
    'ip-allow': {
      type: 'string',
      multiple: true,
      value: 'CIDR',
      help: 'Repeatable: allowed address or range.',
    },
    'bounds-json': {
      type: 'string',
      value: 'JSON',
      help: 'provisioner (required): {"connections":[…],"max_ttl_seconds":N,"allowed_methods":[…],"allowed_paths":[…]}',
    },
    'api-scope-json': {
      type: 'string',
      value: 'JSON',
      help: 'Limit the token to part of the management API: {"methods":[…],"paths":[…]}',
    },
    ...OPERATOR_OPTIONS,
  },
  async run(ctx) {
    const { flags } = ctx;
    const name = flags.required('name');
    const role = flags.oneOf('role', MANAGEMENT_ROLES);
    if (role === undefined) throw new UsageError('--role is required');
    const boundsText = flags.string('bounds-json');
    const scopeText = flags.string('api-scope-json');
    if (role === 'provisioner' && boundsText === undefined)
      throw new UsageError('a provisioner token needs --bounds-json');
    const expiresAt = flags.string('expires-at');
    const ipAllow = flags.list('ip-allow');
    const input: CreateManagementTokenInput = {
      name,
      role,
      ...(expiresAt === undefined ? {} : { expires_at: expiresAt }),
      ...(ipAllow.length === 0 ? {} : { ip_allowlist: ipAllow }),
      ...(boundsText === undefined ? {} : { bounds: parseJsonOption('bounds-json', boundsText, Bounds) }),
      ...(scopeText === undefined
        ? {}
        : { api_scope: parseJsonOption('api-scope-json', scopeText, ApiScope) }),
    };
    return withOperator(ctx, async ({ relay, actor }) => {
      const { record, token } = await relay.services.tokens.create(actor, input);
      const view = { ...managementTokenView(record, relay.clock.now()), token };
      if (flags.bool('json')) ctx.out.json(view);
      else {
        ctx.out.line(`Created ${view.role} token ${view.id} ("${view.name}").`);
        ctx.out.line('Token (shown this once; Relay keeps only its hash):');
        ctx.out.line(`  ${token}`);
      }
      return 0;
    });
  },
};

const revoke: CommandSpec = {
  name: 'revoke',
  summary: 'Revoke a management token at once',
  args: ['ID'],
  options: OPERATOR_OPTIONS,
  run: (ctx) =>
    withOperator(ctx, async ({ relay, actor }) => {
      const view = managementTokenView(
        await relay.services.tokens.revoke(actor, ctx.args[0] as string),
        relay.clock.now(),
      );
      if (ctx.flags.bool('json')) ctx.out.json(view);
      else ctx.out.line(`Revoked token ${view.id} (${view.name}) at ${view.revoked_at}.`);
      return 0;
    }),
};

const rotate: CommandSpec = {
  name: 'rotate',
  summary: 'Issue a new secret for a token; the old one keeps working for the grace period',
  args: ['ID'],
  options: {
    grace: {
      type: 'string',
      value: 'SECONDS',
      help: 'How long the old secret keeps working (default 3600; 0 = stops now).',
    },
    ...OPERATOR_OPTIONS,
  },
  run: (ctx) => {
    const graceText = ctx.flags.string('grace') ?? '3600';
    if (!/^\d+$/.test(graceText)) throw new UsageError('--grace must be a whole number of seconds');
    return withOperator(ctx, async ({ relay, actor }) => {
      const { record, token } = await relay.services.tokens.rotate(
        actor,
        ctx.args[0] as string,
        Number(graceText),
      );
      const view = { ...managementTokenView(record, relay.clock.now()), token };
      if (ctx.flags.bool('json')) ctx.out.json(view);
      else {
        ctx.out.line(`Rotated token ${view.id}; the old secret works until ${view.previous_valid_until}.`);
        ctx.out.line('New token (shown this once):');
        ctx.out.line(`  ${token}`);
      }
      return 0;
    });
  },
};

export const tokensGroup: GroupSpec = {
  name: 'tokens',
  summary: 'Management API tokens (admin, viewer, provisioner)',
  commands: [list, add, rotate, revoke],
};
