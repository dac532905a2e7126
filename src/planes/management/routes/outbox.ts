import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { OutboxMessage } from '../../../ports/store.ts';
import { type ManagementContext, workspaceOf } from '../context.ts';
import { DateTime } from '../schemas.ts';

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

const OutboxMessageView = Type.Object(
  {
    id: Type.String(),
    to: Type.String(),
    subject: Type.String(),
    text: Type.String({ description: 'The whole body: it may hold a confirm link, a capability' }),
    status: Type.Unsafe<'sent' | 'error' | 'unsent'>({
      type: 'string',
      enum: ['sent', 'error', 'unsent'],
      description: 'unsent: no SMTP is configured (or delivery is still under way)',
    }),
    created_at: DateTime,
    sent_at: Nullable(DateTime),
    error: Nullable(Type.String()),
  },
  { $id: 'OutboxMessage' },
);

const OutboxQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })) },
  { additionalProperties: false },
);

export function outboxStatus(m: OutboxMessage): 'sent' | 'error' | 'unsent' {
  if (m.error !== null) return 'error';
  return m.sentAt === null ? 'unsent' : 'sent';
}

export function outboxMessageView(m: OutboxMessage) {
  return {
    id: m.id,
    to: m.to,
    subject: m.subject,
    text: m.text,
    status: outboxStatus(m),
    created_at: m.createdAt,
    sent_at: m.error === null ? m.sentAt : null,
    error: m.error,
  };
}

/**
 * Mail Relay sent or would have sent (SPEC §6): with no SMTP configured this is
 * where a confirm link can be read. Admins only, and its tag names no API-key
 * resource, so only a full-access key reaches it: bodies carry capabilities.
 */
export function outboxRoutes(app: FastifyInstance, ctx: ManagementContext): void {
  app.get<{ Querystring: Static<typeof OutboxQuery> }>(
    '/api/v1/outbox',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['outbox'],
        summary: "This workspace's outgoing mail, newest first",
        querystring: OutboxQuery,
        response: { 200: Type.Object({ data: Type.Array(OutboxMessageView) }) },
      },
    },
    async (request) => {
      const messages = await ctx.services.deps.store.outbox.list({
        workspaceId: workspaceOf(request),
        limit: request.query.limit ?? 50,
      });
      return { data: messages.map(outboxMessageView) };
    },
  );
}
