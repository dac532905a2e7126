import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { actorOf, type ManagementContext, workspaceOf } from '../context.ts';
import { managementTokenView } from '../present.ts';
import {
  IdParams,
  IssuedManagementTokenView,
  ListQuery,
  ManagementTokenCreate,
  ManagementTokenView,
  pageOf,
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
      const { record, token } = await tokens.create(actorOf(request), request.body);
      return reply.code(201).send({ ...managementTokenView(record, ctx.clock.now()), token });
    },
  );

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/api/v1/tokens',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'List management tokens',
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
}
