import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { actorOf, type ManagementContext, workspaceOf } from '../context.ts';
import { connectionView } from '../present.ts';
import {
  ConnectionCreate,
  ConnectionUpdate,
  ConnectionView,
  IdParams,
  ListQuery,
  pageOf,
  SecretReplace,
} from '../schemas.ts';

const tags = ['connections'];

export function connectionRoutes(app: FastifyInstance, ctx: ManagementContext): void {
  const { connections } = ctx.services;

  app.post<{ Body: Static<typeof ConnectionCreate> }>(
    '/api/v1/connections',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Add an upstream API and its key',
        body: ConnectionCreate,
        response: { 201: ConnectionView },
      },
    },
    async (request, reply) => {
      const connection = await connections.create(actorOf(request), request.body);
      return reply.code(201).send(connectionView(connection));
    },
  );

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/api/v1/connections',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: 'List connections',
        querystring: ListQuery,
        response: { 200: pageOf(ConnectionView) },
      },
    },
    async (request) => {
      const page = await connections.list(workspaceOf(request), {
        limit: request.query.limit ?? 50,
        cursor: request.query.cursor,
      });
      return { data: page.data.map(connectionView), next_cursor: page.nextCursor };
    },
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/api/v1/connections/:id',
    {
      config: { access: 'read' },
      schema: { tags, summary: 'Get a connection', params: IdParams, response: { 200: ConnectionView } },
    },
    async (request) => connectionView(await connections.get(workspaceOf(request), request.params.id)),
  );

  app.patch<{ Params: Static<typeof IdParams>; Body: Static<typeof ConnectionUpdate> }>(
    '/api/v1/connections/:id',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Change a connection',
        params: IdParams,
        body: ConnectionUpdate,
        response: { 200: ConnectionView },
      },
    },
    async (request) =>
      connectionView(await connections.update(actorOf(request), request.params.id, request.body)),
  );

  app.put<{ Params: Static<typeof IdParams>; Body: Static<typeof SecretReplace> }>(
    '/api/v1/connections/:id/secret',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Replace the upstream key; credentials keep working',
        params: IdParams,
        body: SecretReplace,
        response: { 200: ConnectionView },
      },
    },
    async (request) =>
      connectionView(
        await connections.replaceSecret(actorOf(request), request.params.id, request.body.secret),
      ),
  );

  app.delete<{ Params: Static<typeof IdParams> }>(
    '/api/v1/connections/:id',
    { config: { access: 'admin' }, schema: { tags, summary: 'Delete a connection', params: IdParams } },
    async (request, reply) => {
      await connections.delete(actorOf(request), request.params.id);
      return reply.code(204).send();
    },
  );
}
