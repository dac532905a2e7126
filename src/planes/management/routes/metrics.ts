import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RelayError } from '../../../core/errors.ts';
import { METRICS_CONTENT_TYPE } from '../../../services/metrics.ts';
import { presentedToken } from '../auth.ts';
import type { ManagementContext } from '../context.ts';

export const METRICS_PATH = '/metrics';

type Hook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/**
 * Wraps the management API's authentication: a scrape of `/metrics` that
 * presents RELAY_METRICS_TOKEN (as a bearer token) is let through; everything
 * else, `/metrics` without that token included, authenticates as usual (an
 * admin or viewer management token). Compared as SHA-256 digests in constant time.
 */
export function metricsScrapeAuth(ctx: ManagementContext, authenticate: Hook): Hook {
  const token = ctx.metrics?.token ?? '';
  const expected = token === '' ? undefined : digest(token);
  return async (request, reply) => {
    if (expected !== undefined && request.routeOptions.url === METRICS_PATH) {
      const presented = presentedToken(request);
      if (presented !== undefined && timingSafeEqual(digest(presented), expected)) return;
    }
    return authenticate(request, reply);
  };
}

/**
 * Prometheus metrics (SPEC §12) on the management listener: protected by
 * default (admin and viewer tokens; the route's tag names no API-key resource,
 * so scoped API keys are refused), or by a dedicated RELAY_METRICS_TOKEN for
 * the scraper. Not part of the /api/v1 contract.
 */
export function metricsRoutes(app: FastifyInstance, ctx: ManagementContext): void {
  app.get(
    METRICS_PATH,
    { config: { access: 'read' }, schema: { tags: ['metrics'], summary: 'Prometheus metrics' } },
    async (_request, reply) => {
      if (!ctx.metrics) throw new RelayError('service_unavailable', 'metrics are not available here');
      return reply.type(METRICS_CONTENT_TYPE).send(ctx.metrics.registry.render());
    },
  );
}
