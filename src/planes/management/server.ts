import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { type Problem, RelayError } from '../../core/errors.ts';
import { PROBLEM_CONTENT_TYPE, problemDocument } from '../problem.ts';
import { newRequestId } from '../request-id.ts';
import { authenticate } from './auth.ts';
import type { ManagementContext } from './context.ts';
import { openApiDocument, type RouteRecord } from './openapi.ts';
import { managementRateLimit } from './rate-limit.ts';
import { auditRoutes } from './routes/audit.ts';
import { connectionRoutes } from './routes/connections.ts';
import { credentialRoutes } from './routes/credentials.ts';
import { ipConfirmationRoutes } from './routes/ip-confirmations.ts';
import { leakReportRoutes } from './routes/leak-reports.ts';
import { metricsRoutes, metricsScrapeAuth } from './routes/metrics.ts';
import { outboxRoutes } from './routes/outbox.ts';
import { presetRoutes } from './routes/presets.ts';
import { recipientRoutes } from './routes/recipients.ts';
import { securityEventRoutes } from './routes/security-events.ts';
import { shareLinkRoutes } from './routes/share-links.ts';
import { tokenRoutes } from './routes/tokens.ts';
import { trustedIpRoutes } from './routes/trusted-ips.ts';
import { workspaceRoutes } from './routes/workspace.ts';
import { fieldErrors, validatorCompiler } from './validation.ts';

function sendProblem(reply: FastifyReply, problem: Problem) {
  const body = problemDocument(problem, String(reply.request.id));
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(body);
}

/** Maps whatever a route threw onto the error registry; unknown errors become an opaque 500. */
function toProblem(error: FastifyError | RelayError, ctx: ManagementContext, requestId: string): Problem {
  if (error instanceof RelayError) return { code: error.code, detail: error.detail, errors: error.errors };
  const fe = error as FastifyError & { validationContext?: string };
  if (fe.validation) {
    const part = fe.validationContext ?? 'body';
    const errors = fieldErrors(fe.validation as never, part);
    return {
      code: 'validation_failed',
      detail: errors.map((e) => `${e.path} ${e.message}`).join('; '),
      errors,
    };
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { code: 'invalid_json', detail: 'request body is not valid JSON' };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { code: 'payload_too_large', detail: `request body is larger than ${ctx.bodyLimit} bytes` };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { code: 'unsupported_media_type', detail: 'send JSON with Content-Type: application/json' };
  }
  if (fe instanceof SyntaxError || fe.statusCode === 400)
    return { code: 'invalid_json', detail: 'request body is not valid JSON' };
  ctx.logger.error(
    { err: { name: fe.name, message: fe.message, stack: fe.stack }, request_id: requestId },
    'unhandled management API error',
  );
  return { code: 'internal_error' };
}

export function buildManagementApi(ctx: ManagementContext): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: ctx.bodyLimit,
    genReqId: newRequestId,
    requestIdHeader: false,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: false, caseSensitive: true },
  });
  app.setValidatorCompiler(validatorCompiler);
  // JSON only: a text/plain body must be 415, not parsed as a string and then fail validation.
  app.removeContentTypeParser('text/plain');
  const routes: RouteRecord[] = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method === 'HEAD') continue;
      routes.push({ method, url: route.url, schema: route.schema, access: route.config?.access ?? 'admin' });
    }
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
  });
  // onRequest: authenticated before the body is read or validated.
  // A Prometheus scrape with RELAY_METRICS_TOKEN skips management-token authentication (routes/metrics.ts).
  app.addHook('onRequest', metricsScrapeAuth(ctx, authenticate(ctx)));
  app.addHook('onRequest', managementRateLimit(ctx));
  app.addHook('onResponse', async (request, reply) => {
    ctx.logger.info(
      {
        request_id: request.id,
        method: request.method,
        route: request.routeOptions.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        actor: request.principal?.id,
      },
      'management request',
    );
  });

  app.setErrorHandler((error: FastifyError | RelayError, request, reply) =>
    sendProblem(reply, toProblem(error, ctx, String(request.id))),
  );
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, {
      code: 'not_found',
      detail: `no route ${request.method} ${request.url.split('?')[0]}`,
    }),
  );

  app.get('/healthz', { config: { access: 'public' } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { config: { access: 'public' } }, async (_request, reply) => {
    try {
      await ctx.services.deps.store.meta.get('kek_check');
      return { status: 'ready' };
    } catch {
      return sendProblem(reply, { code: 'service_unavailable', detail: 'store unreachable' });
    }
  });

  connectionRoutes(app, ctx);
  recipientRoutes(app, ctx);
  credentialRoutes(app, ctx);
  tokenRoutes(app, ctx);
  workspaceRoutes(app, ctx);
  auditRoutes(app, ctx);
  presetRoutes(app);
  shareLinkRoutes(app, ctx);
  trustedIpRoutes(app, ctx);
  outboxRoutes(app, ctx);
  ipConfirmationRoutes(app, ctx);
  securityEventRoutes(app, ctx);
  leakReportRoutes(app, ctx);
  metricsRoutes(app, ctx);

  let document: Record<string, unknown> | undefined;
  app.get(
    '/api/v1/openapi.json',
    { config: { access: 'public' }, schema: { tags: ['meta'], summary: 'This document' } },
    async () => {
      document ??= openApiDocument(routes, ctx.version);
      return document;
    },
  );
  return app;
}
