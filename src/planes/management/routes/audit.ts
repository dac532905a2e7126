import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { AuditRecord } from '../../../core/audit.ts';
import { RelayError } from '../../../core/errors.ts';
import { type ManagementContext, workspaceOf } from '../context.ts';
import { DateTime, pageOf } from '../schemas.ts';

const AuditQuery = Type.Object(
  {
    credential_id: Type.Optional(Type.String({ maxLength: 100 })),
    recipient_id: Type.Optional(Type.String({ maxLength: 100 })),
    connection_id: Type.Optional(Type.String({ maxLength: 100 })),
    decision: Type.Optional(
      Type.Unsafe<'allowed' | 'blocked'>({ type: 'string', enum: ['allowed', 'blocked'] }),
    ),
    status: Type.Optional(Type.Integer({ minimum: 100, maximum: 599 })),
    since: Type.Optional(DateTime),
    until: Type.Optional(DateTime),
    cursor: Type.Optional(Type.String({ maxLength: 500 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  },
  { additionalProperties: false },
);

const Nullable = (t: ReturnType<typeof Type.String>) => Type.Union([t, Type.Null()]);
const AuditEventView = Type.Object(
  {
    id: Type.String(),
    at: DateTime,
    request_id: Type.String(),
    connection_id: Nullable(Type.String()),
    credential_id: Nullable(Type.String()),
    recipient_id: Nullable(Type.String()),
    method: Type.String(),
    path: Type.String(),
    query: Nullable(Type.String()),
    decision: Type.String(),
    reason: Nullable(Type.String()),
    status: Type.Integer(),
    duration_ms: Type.Number(),
    upstream_ms: Type.Union([Type.Number(), Type.Null()]),
    bytes_in: Type.Integer(),
    bytes_out: Type.Integer(),
    ip: Type.String(),
    user_agent: Nullable(Type.String()),
  },
  { $id: 'AuditEvent' },
);

export function auditView(a: AuditRecord) {
  return {
    id: a.id,
    at: a.at,
    request_id: a.requestId,
    connection_id: a.connectionId,
    credential_id: a.credentialId,
    recipient_id: a.recipientId,
    method: a.method,
    path: a.path,
    query: a.query,
    decision: a.decision,
    reason: a.reason,
    status: a.status,
    duration_ms: a.durationMs,
    upstream_ms: a.upstreamMs,
    bytes_in: a.bytesIn,
    bytes_out: a.bytesOut,
    ip: a.ip,
    user_agent: a.userAgent,
  };
}

export function auditRoutes(app: FastifyInstance, ctx: ManagementContext): void {
  app.get<{ Querystring: Static<typeof AuditQuery> }>(
    '/api/v1/audit',
    {
      config: { access: 'read' },
      schema: {
        tags: ['audit'],
        summary: 'Proxied requests, oldest first, filtered',
        querystring: AuditQuery,
        response: { 200: pageOf(AuditEventView) },
      },
    },
    async (request) => {
      const q = request.query;
      if (q.since !== undefined && q.until !== undefined && q.since >= q.until) {
        throw new RelayError('validation_failed', 'since must be before until');
      }
      const page = await ctx.services.deps.store.audit.list(
        workspaceOf(request),
        {
          credentialId: q.credential_id,
          recipientId: q.recipient_id,
          connectionId: q.connection_id,
          decision: q.decision,
          status: q.status,
          since: q.since === undefined ? undefined : new Date(q.since).toISOString(),
          until: q.until === undefined ? undefined : new Date(q.until).toISOString(),
        },
        { limit: q.limit ?? 100, cursor: q.cursor },
      );
      return { data: page.data.map(auditView), next_cursor: page.nextCursor };
    },
  );
}
