import type { Static } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { actorOf, type ManagementContext, workspaceOf } from '../context.ts';
import { recipientView } from '../present.ts';
import { IdParams, ListQuery, pageOf, RecipientCreate, RecipientView } from '../schemas.ts';

const tags = ['recipients'];
const RevokeResult = Type.Object({
  ...RecipientView.properties,
  revoked_credentials: Type.Array(Type.String()),
});

export function recipientRoutes(app: FastifyInstance, ctx: ManagementContext): void {
  const { recipients } = ctx.services;

  app.post<{ Body: Static<typeof RecipientCreate> }>(
    '/api/v1/recipients',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Add a person, service or agent',
        body: RecipientCreate,
        response: { 201: RecipientView },
      },
    },
    async (request, reply) =>
      reply.code(201).send(recipientView(await recipients.create(actorOf(request), request.body))),
  );

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/api/v1/recipients',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: 'List recipients',
        querystring: ListQuery,
        response: { 200: pageOf(RecipientView) },
      },
    },
    async (request) => {
      const page = await recipients.list(workspaceOf(request), {
        limit: request.query.limit ?? 50,
        cursor: request.query.cursor,
      });
      return { data: page.data.map(recipientView), next_cursor: page.nextCursor };
    },
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/api/v1/recipients/:id',
    {
      config: { access: 'read' },
      schema: { tags, summary: 'Get a recipient', params: IdParams, response: { 200: RecipientView } },
    },
    async (request) => recipientView(await recipients.get(workspaceOf(request), request.params.id)),
  );

  app.post<{ Params: Static<typeof IdParams> }>(
    '/api/v1/recipients/:id/revoke',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Revoke a recipient and every credential it holds',
        params: IdParams,
        response: { 200: RevokeResult },
      },
    },
    async (request) => {
      const { recipient, revokedCredentials } = await recipients.revoke(actorOf(request), request.params.id);
      return { ...recipientView(recipient), revoked_credentials: revokedCredentials };
    },
  );
}
