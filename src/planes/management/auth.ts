import type { FastifyReply, FastifyRequest } from 'fastify';
import { RelayError } from '../../core/errors.ts';
import type { ManagementContext } from './context.ts';

/** Management API accepts `Authorization: Bearer <token>` and `X-API-Key: <token>` (SPEC §3). */
export function presentedToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string') {
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    return match?.[1];
  }
  const apiKey = request.headers['x-api-key'];
  return typeof apiKey === 'string' ? apiKey.trim() : undefined;
}

const READ_METHODS = new Set(['GET', 'HEAD']);

/**
 * Authenticates every route that is not public, then applies the role: viewers
 * read, admins read and write. Provisioner tokens are refused everywhere until
 * their bounded routes exist: default deny.
 */
export function authenticate(ctx: ManagementContext) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const access = request.routeOptions.config.access ?? 'admin';
    if (access === 'public') return;
    const token = await ctx.services.tokens.authenticate(presentedToken(request));
    request.principal = token;
    if (token.role === 'admin') return;
    if (token.role === 'viewer' && access === 'read' && READ_METHODS.has(request.method)) return;
    throw new RelayError(
      'forbidden',
      `a ${token.role} token may not ${request.method} ${request.routeOptions.url}`,
    );
  };
}
