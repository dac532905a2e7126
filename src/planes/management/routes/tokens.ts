import type { Static } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { actorOf, type ManagementContext, workspaceOf } from '../context.ts';
import { apiKeyView, managementTokenView } from '../present.ts';
import {
  ApiKeyCreate,
  ApiKeyView,
  IdParams,
  IssuedApiKeyView,
  IssuedManagementTokenView,
  ListQuery,
  ManagementTokenCreate,
  ManagementTokenView,
  pageOf,
  TokenRotate,
} from '../schemas.ts';

const tags = ['tokens'];

export function tokenRoutes(app: FastifyInstance, ctx: ManagementContext): void {
  const { tokens } = ctx.services;

  app.post<{ Body: Static<typeof ManagementTokenCreate> }>(
    '/api/v1/tokens',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Create a management token (shown once)',
        body: ManagementTokenCreate,
        response: { 201: IssuedManagementTokenView },
      },
    },
    async (request, reply) => {
      const { record, token } = await tokens.create(actorOf(request), request.body, request.principal);
      return reply.code(201).send({ ...managementTokenView(record, ctx.clock.now()), token });
    },
  );

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/api/v1/tokens',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'List management tokens (never their secrets)',
        querystring: ListQuery,
        response: { 200: pageOf(ManagementTokenView) },
      },
    },
    async (request) => {
      const page = await tokens.list(workspaceOf(request), {
        limit: request.query.limit ?? 50,
        cursor: request.query.cursor,
      });
      const now = ctx.clock.now();
      return { data: page.data.map((t) => managementTokenView(t, now)), next_cursor: page.nextCursor };
    },
  );

  app.post<{ Params: Static<typeof IdParams> }>(
    '/api/v1/tokens/:id/revoke',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Revoke a management token at once',
        params: IdParams,
        response: { 200: ManagementTokenView },
      },
    },
    async (request) =>
      managementTokenView(await tokens.revoke(actorOf(request), request.params.id), ctx.clock.now()),
  );

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof TokenRotate> | undefined }>(
    '/api/v1/tokens/:id/rotate',
    {
      // The body is optional: no body means the default grace period.
      preValidation: async (request) => {
        request.body ??= {};
      },
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Issue a new secret; the old one works for the grace period',
        params: IdParams,
        body: TokenRotate,
        response: { 200: IssuedManagementTokenView },
      },
    },
    async (request) => {
      const grace = request.body?.grace_period_seconds ?? 3600;
      const { record, token } = await tokens.rotate(
        actorOf(request),
        request.params.id,
        grace,
        request.principal,
      );
      return { ...managementTokenView(record, ctx.clock.now()), token };
    },
  );

  // Seed 003: API keys over X-API-Key, with exactly the documented shapes.
  app.post<{ Body: Static<typeof ApiKeyCreate> }>(
    '/api/v1/auth/api-keys',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Create an API key (returned once)',
        body: ApiKeyCreate,
        response: { 201: IssuedApiKeyView },
      },
    },
    async (request, reply) => {
      const { record, token } = await tokens.create(
        actorOf(request),
        {
          name: request.body.name,
          role: 'admin',
          kind: 'api_key',
          ...(request.body.expires_at === undefined ? {} : { expires_at: request.body.expires_at }),
          scopes: request.body.scopes ?? [],
        },
        request.principal,
      );
      return reply.code(201).send({ ...apiKeyView(record), key: token });
    },
  );

  app.get(
    '/api/v1/auth/api-keys',
    {
      config: { access: 'admin' },
      schema: { tags, summary: 'List API keys (no secrets)', response: { 200: Type.Array(ApiKeyView) } },
    },
    async (request) => {
      const out: ReturnType<typeof apiKeyView>[] = [];
      let cursor: string | undefined;
      do {
        const page = await tokens.list(workspaceOf(request), { limit: 200, cursor, kind: 'api_key' });
        out.push(...page.data.filter((t) => t.revokedAt === null).map(apiKeyView));
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined);
      return out;
    },
  );

  app.delete<{ Params: Static<typeof IdParams> }>(
    '/api/v1/auth/api-keys/:id',
    { config: { access: 'admin' }, schema: { tags, summary: 'Revoke an API key at once', params: IdParams } },
    async (request, reply) => {
      await tokens.revoke(actorOf(request), request.params.id, 'api_key');
      return reply.code(204).send();
    },
  );
}
