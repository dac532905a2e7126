import { AUTH_TYPES, type AuthType, SECRET_SCANNING_MODES } from '../../core/model.ts';
import { connectionView } from '../../planes/management/present.ts';
import type {
  ConnectionAuthInput,
  ConnectionOptionsInput,
  CreateConnectionInput,
  UpdateConnectionInput,
} from '../../services/connections.ts';
import {
  type CommandSpec,
  type Flags,
  type GroupSpec,
  OPERATOR_OPTIONS,
  type OptionSpecs,
} from '../command.ts';
import { UsageError } from '../errors.ts';
import { allPages, withOperator } from '../install.ts';
import type { Output } from '../output.ts';
import { readSecret, SECRET_OPTIONS } from '../secret.ts';

const AUTH_OPTIONS: OptionSpecs = {
  'auth-type': { type: 'string', value: 'TYPE', help: `How the key is injected: ${AUTH_TYPES.join(', ')}.` },
  username: { type: 'string', value: 'USER', help: 'basic: the user name (absent: the key is the user).' },
  'header-name': { type: 'string', value: 'NAME', help: 'header: the header the key is sent in.' },
  'query-param': { type: 'string', value: 'NAME', help: 'query: the query parameter the key is sent in.' },
  'token-url': { type: 'string', value: 'URL', help: 'oauth2_client_credentials: the token endpoint.' },
  'client-id': { type: 'string', value: 'ID', help: 'oauth2_client_credentials: the client id.' },
  scope: { type: 'string', value: 'SCOPE', help: 'oauth2_client_credentials: the scope to request.' },
};

/** Flag name → field of the auth input. */
const AUTH_FIELDS = [
  ['username', 'username'],
  ['header-name', 'header_name'],
  ['query-param', 'query_param'],
  ['token-url', 'token_url'],
  ['client-id', 'client_id'],
  ['scope', 'scope'],
] as const;

const CONNECTION_OPTIONS: OptionSpecs = {
  'log-query-strings': { type: 'boolean', help: 'Record query strings in the audit log (off by default).' },
  'allow-insecure-upstream': { type: 'boolean', help: 'Allow a plain http base URL (local development).' },
  'secret-scanning': {
    type: 'string',
    value: 'MODE',
    help: `Scan request bodies for secrets: ${SECRET_SCANNING_MODES.join(', ')}.`,
  },
};

const SECRET_NOTE = [
  'The upstream secret is never taken from the command line (it would be visible in ps and',
  'shell history): pipe it with --secret-stdin, or name an environment variable with --secret-env.',
  'Example:  printf %s "$OPENAI_API_KEY" | relay connections add --id conn_openai --name OpenAI \\',
  '            --base-url https://api.openai.com --auth-type bearer --secret-stdin',
].join('\n');

function authFields(flags: Flags): Omit<ConnectionAuthInput, 'type' | 'secret'> {
  const fields: Record<string, string> = {};
  for (const [flag, field] of AUTH_FIELDS) {
    const value = flags.string(flag);
    if (value !== undefined) fields[field] = value;
  }
  return fields;
}

function connectionOptions(flags: Flags): ConnectionOptionsInput | undefined {
  const options: { -readonly [K in keyof ConnectionOptionsInput]: ConnectionOptionsInput[K] } = {};
  const logQuery = flags.bool('log-query-strings');
  const insecure = flags.bool('allow-insecure-upstream');
  const scanning = flags.oneOf('secret-scanning', SECRET_SCANNING_MODES);
  if (logQuery !== undefined) options.log_query_strings = logQuery;
  if (insecure !== undefined) options.allow_insecure_upstream = insecure;
  if (scanning !== undefined) options.secret_scanning = scanning;
  return Object.keys(options).length === 0 ? undefined : options;
}

function printConnection(out: Output, json: boolean, view: ReturnType<typeof connectionView>): void {
  if (json) out.json(view);
  else out.record(view);
}

const list: CommandSpec = {
  name: 'list',
  summary: 'List connections (secrets shown only as their last four characters)',
  options: OPERATOR_OPTIONS,
  run: (ctx) =>
    withOperator(ctx, async ({ relay, workspaceId }) => {
      const rows = await allPages((o) => relay.services.connections.list(workspaceId, o));
      const views = rows.map(connectionView);
      if (ctx.flags.bool('json')) ctx.out.json(views);
      else
        ctx.out.table(
          views.map((v) => ({ ...v, auth: v.auth.type, secret: v.secret_last4 ? `…${v.secret_last4}` : '' })),
          [
            ['id', 'ID'],
            ['name', 'NAME'],
            ['base_url', 'BASE URL'],
            ['auth', 'AUTH'],
            ['secret', 'SECRET'],
            ['updated_at', 'UPDATED'],
          ],
          'No connections yet: add one with "relay connections add".',
        );
      return 0;
    }),
};

const get: CommandSpec = {
  name: 'get',
  summary: 'Show one connection',
  args: ['ID'],
  options: OPERATOR_OPTIONS,
  run: (ctx) =>
    withOperator(ctx, async ({ relay, workspaceId }) => {
      const connection = await relay.services.connections.get(workspaceId, ctx.args[0] as string);
      printConnection(ctx.out, ctx.flags.bool('json') === true, connectionView(connection));
      return 0;
    }),
};

const add: CommandSpec = {
  name: 'add',
  summary: 'Add a connection to an upstream API',
  options: {
    id: { type: 'string', value: 'ID', help: 'Readable id such as conn_openai (default: generated).' },
    name: { type: 'string', value: 'NAME', help: 'Display name (required).' },
    'base-url': {
      type: 'string',
      value: 'URL',
      help: 'Upstream base URL, https (required unless --preset).',
    },
    preset: {
      type: 'string',
      value: 'PRESET',
      help: 'Vendor preset (relay presets list) filling base URL and auth style.',
    },
    ...AUTH_OPTIONS,
    ...CONNECTION_OPTIONS,
    ...SECRET_OPTIONS,
    ...OPERATOR_OPTIONS,
  },
  notes: `--base-url and --auth-type are required unless --preset gives them.\n${SECRET_NOTE}`,
  async run(ctx) {
    const { flags } = ctx;
    const secret = (await readSecret(ctx.io, flags, true)) as string;
    const name = flags.required('name');
    const preset = flags.string('preset');
    const baseUrl = preset === undefined ? flags.required('base-url') : flags.string('base-url');
    const type = flags.oneOf('auth-type', AUTH_TYPES);
    if (type === undefined && preset === undefined)
      throw new UsageError('--auth-type is required (or --preset)');
    const options = connectionOptions(flags);
    const id = flags.string('id');
    const input: CreateConnectionInput = {
      ...(id === undefined ? {} : { id }),
      name,
      ...(baseUrl === undefined ? {} : { base_url: baseUrl }),
      ...(preset === undefined ? {} : { preset }),
      auth: { ...(type === undefined ? {} : { type }), secret, ...authFields(flags) },
      ...(options === undefined ? {} : { options }),
    };
    return withOperator(ctx, async ({ relay, actor }) => {
      const connection = await relay.services.connections.create(actor, input);
      printConnection(ctx.out, flags.bool('json') === true, connectionView(connection));
      return 0;
    });
  },
};

const update: CommandSpec = {
  name: 'update',
  summary: 'Change a connection (only the fields given)',
  args: ['ID'],
  options: {
    name: { type: 'string', value: 'NAME', help: 'New display name.' },
    'base-url': { type: 'string', value: 'URL', help: 'New upstream base URL.' },
    ...AUTH_OPTIONS,
    ...CONNECTION_OPTIONS,
    ...SECRET_OPTIONS,
    ...OPERATOR_OPTIONS,
  },
  notes: [
    'Boolean options can be turned off with --no-<option>, e.g. --no-log-query-strings.',
    'Auth fields not given keep their current values; a new secret is optional.',
    SECRET_NOTE,
  ].join('\n'),
  async run(ctx) {
    const { flags } = ctx;
    const secret = await readSecret(ctx.io, flags, false);
    const authType = flags.oneOf<AuthType>('auth-type', AUTH_TYPES);
    const fields = authFields(flags);
    const options = connectionOptions(flags);
    const name = flags.string('name');
    const baseUrl = flags.string('base-url');
    const authChanged = authType !== undefined || secret !== undefined || Object.keys(fields).length > 0;
    if (!authChanged && options === undefined && name === undefined && baseUrl === undefined)
      throw new UsageError('nothing to update: give at least one option');
    return withOperator(ctx, async ({ relay, workspaceId, actor }) => {
      const id = ctx.args[0] as string;
      const current = await relay.services.connections.get(workspaceId, id);
      const input: UpdateConnectionInput = {
        ...(name === undefined ? {} : { name }),
        ...(baseUrl === undefined ? {} : { base_url: baseUrl }),
        ...(options === undefined ? {} : { options }),
        ...(authChanged
          ? {
              auth: {
                type: authType ?? current.authType,
                ...current.authConfig,
                ...fields,
                ...(secret === undefined ? {} : { secret }),
              },
            }
          : {}),
      };
      const connection = await relay.services.connections.update(actor, id, input);
      printConnection(ctx.out, flags.bool('json') === true, connectionView(connection));
      return 0;
    });
  },
};

const remove: CommandSpec = {
  name: 'delete',
  summary: 'Delete a connection',
  args: ['ID'],
  options: OPERATOR_OPTIONS,
  run: (ctx) =>
    withOperator(ctx, async ({ relay, actor }) => {
      const id = ctx.args[0] as string;
      await relay.services.connections.delete(actor, id);
      if (ctx.flags.bool('json')) ctx.out.json({ id, deleted: true });
      else ctx.out.line(`Deleted connection ${id}.`);
      return 0;
    }),
};

const setSecret: CommandSpec = {
  name: 'set-secret',
  summary: "Replace a connection's upstream secret (credentials keep working)",
  args: ['ID'],
  options: { ...SECRET_OPTIONS, ...OPERATOR_OPTIONS },
  notes: SECRET_NOTE,
  async run(ctx) {
    const secret = (await readSecret(ctx.io, ctx.flags, true)) as string;
    return withOperator(ctx, async ({ relay, actor }) => {
      const connection = await relay.services.connections.replaceSecret(actor, ctx.args[0] as string, secret);
      printConnection(ctx.out, ctx.flags.bool('json') === true, connectionView(connection));
      return 0;
    });
  },
};

export const connectionsGroup: GroupSpec = {
  name: 'connections',
  summary: 'Upstream APIs and their (encrypted) real keys',
  commands: [list, get, add, update, remove, setSecret],
};
