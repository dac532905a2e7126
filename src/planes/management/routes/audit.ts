import { once } from 'node:events';
import { Readable } from 'node:stream';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { AuditFilter } from '../../../core/audit.ts';
import { RelayError } from '../../../core/errors.ts';
import type { AuditRepo } from '../../../ports/store.ts';
import {
  auditView,
  EXPORT_CONTENT_TYPES,
  EXPORT_FORMATS,
  type ExportFormat,
  exportAudit,
} from '../../../services/audit-export.ts';
import { tailAudit } from '../../../services/audit-tail.ts';
import { type ManagementContext, workspaceOf } from '../context.ts';
import { DateTime, pageOf } from '../schemas.ts';

const filterProperties = {
  credential_id: Type.Optional(Type.String({ maxLength: 100 })),
  recipient_id: Type.Optional(Type.String({ maxLength: 100 })),
  connection_id: Type.Optional(Type.String({ maxLength: 100 })),
  decision: Type.Optional(
    Type.Unsafe<'allowed' | 'blocked'>({ type: 'string', enum: ['allowed', 'blocked'] }),
  ),
  status: Type.Optional(Type.Integer({ minimum: 100, maximum: 599 })),
  since: Type.Optional(DateTime),
  until: Type.Optional(DateTime),
};

const AuditQuery = Type.Object(
  {
    ...filterProperties,
    cursor: Type.Optional(Type.String({ maxLength: 500 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  },
  { additionalProperties: false },
);

const ExportQuery = Type.Object(
  {
    ...filterProperties,
    format: Type.Optional(
      Type.Unsafe<ExportFormat>({ type: 'string', enum: [...EXPORT_FORMATS], default: 'jsonl' }),
    ),
  },
  { additionalProperties: false },
);

const StreamQuery = Type.Object(
  {
    after_seq: Type.Optional(Type.Integer({ minimum: 0 })),
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

function filterOf(q: Static<typeof ExportQuery>): AuditFilter {
  if (q.since !== undefined && q.until !== undefined && q.since >= q.until) {
    throw new RelayError('validation_failed', 'since must be before until');
  }
  return {
    credentialId: q.credential_id,
    recipientId: q.recipient_id,
    connectionId: q.connection_id,
    decision: q.decision,
    status: q.status,
    since: q.since === undefined ? undefined : new Date(q.since).toISOString(),
    until: q.until === undefined ? undefined : new Date(q.until).toISOString(),
  };
}

/** Between comments on an idle stream, so that proxies and clients see it is alive. */
const HEARTBEAT_MS = 15_000;
const POLL_MS = 500;
const PAGE = 500;

/** `Last-Event-ID` (the SSE reconnection header) or `after_seq`: where a stream resumes. */
function resumeFrom(
  request: FastifyRequest<{ Querystring: Static<typeof StreamQuery> }>,
): number | undefined {
  const header = request.headers['last-event-id'];
  if (typeof header === 'string' && /^\d{1,15}$/.test(header)) return Number(header);
  return request.query.after_seq;
}

/**
 * Server-sent events (WHATWG HTML §9.2): one `audit` event per record, its id
 * the record's position in the workspace's chain, so a client that reconnects
 * with `Last-Event-ID` misses nothing. A client that asks for
 * `text/event-stream` (EventSource does) is kept open and sent new records as
 * they are committed, with a comment every 15 s when idle; any other client
 * gets the records after `after_seq` up to now, and the answer ends.
 */
async function streamAudit(
  repo: AuditRepo,
  request: FastifyRequest<{ Querystring: Static<typeof StreamQuery> }>,
  reply: FastifyReply,
  open: Set<AbortController>,
  logger: Logger,
): Promise<void> {
  const workspaceId = workspaceOf(request);
  const follow = (request.headers.accept ?? '').includes('text/event-stream');
  const stop = new AbortController();
  const { signal } = stop;
  reply.hijack();
  const res = reply.raw;
  // The headers the onRequest hooks set (request id, no-store, nosniff) are not sent for a hijacked reply.
  for (const [name, value] of Object.entries(reply.getHeaders()))
    if (value !== undefined) res.setHeader(name, value);
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-accel-buffering': 'no',
    // The socket goes with the stream: a kept-alive socket would hold a closing server open.
    connection: 'close',
  });
  const write = async (text: string) => {
    if (!res.write(text)) await once(res, 'drain', { signal });
  };
  open.add(stop);
  res.on('close', () => stop.abort());
  const heartbeat = setInterval(() => void res.write(': keep-alive\n\n'), HEARTBEAT_MS);
  try {
    await write(`retry: 2000\n: ${follow ? 'following' : 'until now'}\n\n`);
    if (!follow) {
      let last = resumeFrom(request) ?? 0;
      for (;;) {
        const page = await repo.after(workspaceId, last, PAGE);
        await write(page.map(({ seq, record }) => event(seq, record)).join(''));
        last = page.at(-1)?.seq ?? last;
        if (page.length < PAGE) return;
      }
    }
    const options = { signal, intervalMs: POLL_MS };
    const after = resumeFrom(request);
    for await (const batch of tailAudit(
      repo,
      workspaceId,
      after === undefined ? options : { ...options, afterSeq: after },
    )) {
      await write(batch.map(({ seq, record }) => event(seq, record)).join(''));
    }
  } catch (error) {
    if (!signal.aborted) logger.error({ err: { message: (error as Error).message } }, 'audit stream failed');
  } finally {
    clearInterval(heartbeat);
    open.delete(stop);
    stop.abort();
    res.end();
  }
}

function event(seq: number, record: Parameters<typeof auditView>[0]): string {
  return `id: ${seq}\nevent: audit\ndata: ${JSON.stringify(auditView(record))}\n\n`;
}

export function auditRoutes(app: FastifyInstance, ctx: ManagementContext): void {
  const repo = () => ctx.services.deps.store.audit;
  /** Live streams: ended when the server closes, or they would hold it open. */
  const streams = new Set<AbortController>();
  app.addHook('preClose', async () => {
    for (const stream of streams) stream.abort();
  });

  app.get<{ Querystring: Static<typeof AuditQuery> }>(
    '/api/v1/audit',
    {
      config: { access: 'read' },
      schema: {
        tags: ['audit'],
        summary: 'Proxied requests in the order recorded (chain order), filtered',
        querystring: AuditQuery,
        response: { 200: pageOf(AuditEventView) },
      },
    },
    async (request) => {
      const q = request.query;
      const page = await repo().list(workspaceOf(request), filterOf(q), {
        limit: q.limit ?? 100,
        cursor: q.cursor,
      });
      return { data: page.data.map(auditView), next_cursor: page.nextCursor };
    },
  );

  app.get<{ Querystring: Static<typeof ExportQuery> }>(
    '/api/v1/audit/export',
    {
      config: { access: 'read' },
      schema: {
        tags: ['audit'],
        summary: 'Every matching record in the order recorded, as JSON Lines or CSV (streamed)',
        querystring: ExportQuery,
      },
    },
    async (request, reply) => {
      const format = request.query.format ?? 'jsonl';
      const filter = filterOf(request.query);
      const workspaceId = workspaceOf(request);
      return reply
        .type(EXPORT_CONTENT_TYPES[format])
        .header('content-disposition', `attachment; filename="audit-${workspaceId}.${format}"`)
        .send(Readable.from(exportAudit(repo(), workspaceId, filter, format)));
    },
  );

  app.get<{ Querystring: Static<typeof StreamQuery> }>(
    '/api/v1/audit/stream',
    {
      config: { access: 'read' },
      schema: {
        tags: ['audit'],
        summary: 'New records as server-sent events (send Accept: text/event-stream to follow)',
        querystring: StreamQuery,
      },
    },
    (request, reply) => streamAudit(repo(), request, reply, streams, ctx.logger),
  );
}
