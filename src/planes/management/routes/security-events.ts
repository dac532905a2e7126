import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { RelayError } from '../../../core/errors.ts';
import { securityEventView } from '../../../services/security-alerts-inbox.ts';
import { actorOf, type ManagementContext, type SecurityContext, workspaceOf } from '../context.ts';
import { DateTime, IdParams, ListQuery, pageOf } from '../schemas.ts';

const NullableString = Type.Union([Type.String(), Type.Null()]);

const SecurityEventView = Type.Object(
  {
    id: Type.String(),
    at: DateTime,
    kind: Type.String({ description: 'brute_force, new_ip_blocked, leaked_token, canary_used, …' }),
    severity: Type.Unsafe<string>({ type: 'string', enum: ['low', 'medium', 'high', 'critical'] }),
    subject: Type.String({ description: 'What it concerns: an IP, a credential or token id' }),
    detail: Type.Record(Type.String(), Type.Unknown()),
    status: Type.Unsafe<string>({ type: 'string', enum: ['open', 'resolved'] }),
    resolved_at: Type.Union([DateTime, Type.Null()]),
    resolved_by: NullableString,
    scope: Type.Unsafe<string>({
      type: 'string',
      enum: ['workspace', 'system'],
      description:
        'system: raised for the whole Relay (e.g. brute force by unknown tokens), shown to every workspace',
    }),
  },
  { $id: 'SecurityEvent' },
);

const SecurityEventQuery = Type.Object(
  {
    ...ListQuery.properties,
    status: Type.Optional(Type.Unsafe<'open' | 'resolved'>({ type: 'string', enum: ['open', 'resolved'] })),
    kind: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  },
  { additionalProperties: false },
);

const LockdownView = Type.Union(
  [
    Type.Object({
      locked: Type.Boolean(),
      reason: Type.String(),
      locked_at: DateTime,
      event_ids: Type.Array(Type.String()),
      lifted_at: Type.Union([DateTime, Type.Null()]),
      lifted_by: NullableString,
    }),
    Type.Null(),
  ],
  { description: 'null: the workspace was never locked' },
);

const WebhookSet = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      maxLength: 2000,
      description: 'https URL (no credentials, query or fragment; no private address)',
    }),
  },
  { additionalProperties: false },
);

const WebhookView = Type.Object({
  url: NullableString,
  secret: Type.Optional(
    Type.String({
      description:
        'Signing secret, shown once: verify `Relay-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.',
    }),
  ),
});

function security(ctx: ManagementContext): SecurityContext {
  if (!ctx.security) throw new RelayError('service_unavailable', 'security events are not available here');
  return ctx.security;
}

/**
 * Security events (SPEC §8): list (the workspace's and the system-wide ones,
 * one cursor), resolve (admin-audited); the lockdown lift; the signed webhook.
 * Their first tag names no API-key resource, so only full-access keys reach
 * the event routes.
 */
export function securityEventRoutes(app: FastifyInstance, ctx: ManagementContext): void {
  app.get<{ Querystring: Static<typeof SecurityEventQuery> }>(
    '/api/v1/security-events',
    {
      config: { access: 'read' },
      schema: {
        tags: ['security'],
        summary: 'Security events, newest first (this workspace and system-wide)',
        querystring: SecurityEventQuery,
        response: { 200: pageOf(SecurityEventView) },
      },
    },
    async (request) => {
      const { limit, cursor, status, kind } = request.query;
      const page = await security(ctx).inbox.list(workspaceOf(request), {
        limit: limit ?? 50,
        ...(cursor === undefined ? {} : { cursor }),
        ...(status === undefined ? {} : { status }),
        ...(kind === undefined ? {} : { kind }),
      });
      return { data: page.data.map(securityEventView), next_cursor: page.nextCursor };
    },
  );

  app.post<{ Params: Static<typeof IdParams> }>(
    '/api/v1/security-events/:id/resolve',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['security'],
        summary: 'Mark a security event resolved (admin-audited)',
        params: IdParams,
        response: { 200: SecurityEventView },
      },
    },
    async (request) =>
      securityEventView(await security(ctx).inbox.resolve(actorOf(request), request.params.id)),
  );

  app.post(
    '/api/v1/workspace/lockdown/lift',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['workspace'],
        summary: 'Lift the lockdown (409 while any critical security event is unresolved)',
        response: { 200: Type.Object({ lockdown: LockdownView }) },
      },
    },
    async (request) => ({ lockdown: await security(ctx).lockdown.lift(actorOf(request)) }),
  );

  app.put<{ Body: Static<typeof WebhookSet> }>(
    '/api/v1/workspace/security-webhook',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['workspace'],
        summary: 'Set the security webhook; returns a new signing secret, once',
        body: WebhookSet,
        response: { 200: WebhookView },
      },
    },
    async (request) => security(ctx).alerts.setWebhook(actorOf(request), request.body.url),
  );

  app.delete(
    '/api/v1/workspace/security-webhook',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['workspace'],
        summary: 'Remove the security webhook',
        response: { 200: WebhookView },
      },
    },
    async (request) => {
      await security(ctx).alerts.removeWebhook(actorOf(request));
      return { url: null };
    },
  );
}
