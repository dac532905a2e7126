import { publicUrls } from '../../config.ts';
import { agentPrompt } from '../../core/agent-prompt.ts';
import { IP_MODES } from '../../core/model.ts';
import { credentialView, issuedCredentialView } from '../../planes/management/present.ts';
import type { IssueCredentialInput } from '../../services/credentials.ts';
import { type CommandSpec, type GroupSpec, OPERATOR_OPTIONS } from '../command.ts';
import { UsageError } from '../errors.ts';
import { allPages, withOperator } from '../install.ts';
import type { Output } from '../output.ts';
import { parseGrants } from './grant-spec.ts';

function printIssued(out: Output, view: ReturnType<typeof issuedCredentialView>): void {
  out.line(
    `Issued credential ${view.id} ("${view.name}")${view.recipient_id ? ` for ${view.recipient_id}` : ''}.`,
  );
  out.line(`Expires: ${view.expires_at ?? 'never'}   IP mode: ${view.ip_mode}`);
  for (const g of view.grants) {
    const denied = g.deny_query_params.length > 0 ? `; never ?${g.deny_query_params.join(', ?')}` : '';
    out.line(
      `Grant:   ${g.connection_id}: ${g.allowed_methods.join(',')} ${g.allowed_paths.join(', ')}${denied}`,
    );
  }
  for (const f of view.review.findings) out.line(`Review:  [${f.severity}] ${f.message}`);
  out.line();
  if (view.token === null) {
    out.line(`Share link (opens once, until ${view.share_expires_at}); the token is not shown here:`);
    out.line(`  ${view.share_url}`);
  } else {
    out.line('Token (shown this once; Relay keeps only its hash):');
    out.line(`  ${view.token}`);
  }
  out.line();
  out.line('Agent prompt (it names the RELAY_TOKEN environment variable, never the token):');
  out.line('-'.repeat(72));
  out.line(view.agent_prompt);
  out.line('-'.repeat(72));
}

const COLUMNS = [
  ['id', 'ID'],
  ['name', 'NAME'],
  ['recipient_id', 'RECIPIENT'],
  ['token_prefix', 'TOKEN'],
  ['status', 'STATUS'],
  ['connections', 'CONNECTIONS'],
  ['expires_at', 'EXPIRES'],
] as const;

const list: CommandSpec = {
  name: 'list',
  summary: 'List credentials (never their tokens)',
  options: {
    recipient: { type: 'string', value: 'ID', help: 'Only the credentials of this recipient.' },
    ...OPERATOR_OPTIONS,
  },
  run: (ctx) =>
    withOperator(ctx, async ({ relay, workspaceId }) => {
      const recipientId = ctx.flags.string('recipient');
      const rows = await allPages((o) =>
        relay.services.credentials.list(workspaceId, recipientId === undefined ? o : { ...o, recipientId }),
      );
      const now = relay.clock.now();
      const views = rows.map((c) => credentialView(c, now));
      if (ctx.flags.bool('json')) ctx.out.json(views);
      else
        ctx.out.table(
          views.map((v) => ({
            ...v,
            token_prefix: `${v.token_prefix}…`,
            connections: v.grants.map((g) => g.connection_id),
          })),
          COLUMNS,
          'No credentials: issue one with "relay credentials add".',
        );
      return 0;
    }),
};

const get: CommandSpec = {
  name: 'get',
  summary: 'Show one credential (never its token)',
  args: ['ID'],
  options: OPERATOR_OPTIONS,
  run: (ctx) =>
    withOperator(ctx, async ({ relay, workspaceId }) => {
      const credential = await relay.services.credentials.get(workspaceId, ctx.args[0] as string);
      const view = credentialView(credential, relay.clock.now());
      if (ctx.flags.bool('json')) ctx.out.json(view);
      else ctx.out.record(view);
      return 0;
    }),
};

function parseTtl(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new UsageError('--ttl must be a whole number of seconds');
  return Number(text);
}

const add: CommandSpec = {
  name: 'add',
  summary: 'Issue a scoped credential; prints the token once and an agent prompt',
  options: {
    name: { type: 'string', value: 'NAME', help: 'Display name (required).' },
    recipient: { type: 'string', value: 'ID', help: 'Recipient it belongs to (rcp_…).' },
    grant: {
      type: 'string',
      multiple: true,
      value: 'SPEC',
      help: "Repeatable: 'conn_id:GET,POST:/v1/**,/v2/*' (connection : methods : path globs).",
    },
    'deny-query': {
      type: 'string',
      multiple: true,
      value: 'CONN:PARAM',
      help: 'Repeatable: a query parameter that connection must never receive.',
    },
    ttl: { type: 'string', value: 'SECONDS', help: 'Lifetime in seconds.' },
    'expires-at': { type: 'string', value: 'ISO', help: 'Expiry as an RFC 3339 date-time.' },
    'ip-mode': { type: 'string', value: 'MODE', help: `${IP_MODES.join(', ')} (default by recipient kind).` },
    'ip-allow': {
      type: 'string',
      multiple: true,
      value: 'CIDR',
      help: 'Repeatable: allowed address or range.',
    },
    'rate-limit-profile': { type: 'string', value: 'NAME', help: 'Rate-limit profile.' },
    'acknowledge-risks': { type: 'boolean', help: 'Issue even when the safety review finds high risks.' },
    'share-link': {
      type: 'boolean',
      help: 'Hand the token over through a one-time link (printed instead of the token).',
    },
    'share-ttl': { type: 'string', value: 'SECONDS', help: 'Share link lifetime (default 7 days).' },
    ...OPERATOR_OPTIONS,
  },
  notes: [
    'Globs: * is exactly one path segment, ** any number of whole segments.',
    "Example:  relay credentials add --name ci --recipient rcp_… --grant 'conn_github:GET:/repos/**' --ttl 86400",
    'With --json prints the same object as POST /api/v1/credentials, including token and agent_prompt.',
  ].join('\n'),
  async run(ctx) {
    const { flags } = ctx;
    const name = flags.required('name');
    const grants = parseGrants(flags.list('grant'), flags.list('deny-query'));
    const ttl = parseTtl(flags.string('ttl'));
    const expiresAt = flags.string('expires-at');
    const ipMode = flags.oneOf('ip-mode', IP_MODES);
    const recipientId = flags.string('recipient');
    const profile = flags.string('rate-limit-profile');
    const ipAllow = flags.list('ip-allow');
    const input: IssueCredentialInput = {
      name,
      grants,
      ...(recipientId === undefined ? {} : { recipient_id: recipientId }),
      ...(ttl === undefined ? {} : { ttl_seconds: ttl }),
      ...(expiresAt === undefined ? {} : { expires_at: expiresAt }),
      ...(ipMode === undefined ? {} : { ip_mode: ipMode }),
      ...(ipAllow.length === 0 ? {} : { ip_allowlist: ipAllow }),
      ...(profile === undefined ? {} : { rate_limit_profile: profile }),
      ...(flags.bool('acknowledge-risks') === undefined
        ? {}
        : { acknowledge_risks: flags.bool('acknowledge-risks') }),
      ...(flags.bool('share-link') === true || flags.string('share-ttl') !== undefined
        ? { share_link: shareLinkOption(flags.string('share-ttl')) }
        : {}),
    };
    return withOperator(ctx, async ({ relay, actor, config }) => {
      const issued = await relay.services.credentials.issue(actor, input);
      const view = issuedCredentialView(issued, relay.clock.now(), publicUrls(config));
      if (flags.bool('json')) ctx.out.json(view);
      else printIssued(ctx.out, view);
      return 0;
    });
  },
};

function shareLinkOption(ttl: string | undefined): { ttl_seconds?: number } {
  if (ttl === undefined) return {};
  const n = Number(ttl);
  if (!/^\d+$/.test(ttl) || n < 60)
    throw new UsageError('--share-ttl must be a whole number of seconds, at least 60');
  return { ttl_seconds: n };
}

const prompt: CommandSpec = {
  name: 'prompt',
  summary: 'Print the agent prompt of an existing credential (never the token)',
  args: ['ID'],
  options: OPERATOR_OPTIONS,
  run: (ctx) =>
    withOperator(ctx, async ({ relay, workspaceId, config }) => {
      const credential = await relay.services.credentials.get(workspaceId, ctx.args[0] as string);
      const text = agentPrompt({
        credentialName: credential.name,
        proxyBaseUrl: publicUrls(config).proxyBaseUrl,
        grants: credential.grants,
        expiresAt: credential.expiresAt,
      });
      if (ctx.flags.bool('json')) ctx.out.json({ id: credential.id, agent_prompt: text });
      else ctx.out.line(text);
      return 0;
    }),
};

const revoke: CommandSpec = {
  name: 'revoke',
  summary: 'Revoke a credential at once',
  args: ['ID'],
  options: OPERATOR_OPTIONS,
  run: (ctx) =>
    withOperator(ctx, async ({ relay, actor }) => {
      const credential = await relay.services.credentials.revoke(actor, ctx.args[0] as string);
      const view = credentialView(credential, relay.clock.now());
      if (ctx.flags.bool('json')) ctx.out.json(view);
      else ctx.out.line(`Revoked credential ${view.id} (${view.name}) at ${view.revoked_at}.`);
      return 0;
    }),
};

export const credentialsGroup: GroupSpec = {
  name: 'credentials',
  summary: 'Scoped, expiring rk_proxy_ tokens for recipients',
  commands: [list, get, add, prompt, revoke],
};
