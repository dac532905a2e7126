import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { actorOf, type ManagementContext, workspaceOf } from '../context.ts';
import { adminAuditView, workspaceView } from '../present.ts';
import { AdminAuditView, ListQuery, pageOf, WorkspacePatch, WorkspaceView } from '../schemas.ts';

export function workspaceRoutes(app: FastifyInstance, ctx: ManagementContext): void {
  const { workspaces } = ctx.services;

  app.get(
    '/api/v1/workspace',
    {
      config: { access: 'read' },
      schema: {
        tags: ['workspace'],
        summary: 'Workspace policies and settings',
        response: { 200: WorkspaceView },
      },
    },
    async (request) => workspaceView(await workspaces.get(workspaceOf(request))),
  );

  app.patch<{ Body: Static<typeof WorkspacePatch> }>(
    '/api/v1/workspace',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['workspace'],
        summary: 'Change workspace settings',
        body: WorkspacePatch,
        response: { 200: WorkspaceView },
      },
    },
    async (request) =>
      workspaceView(await workspaces.updateSettings(actorOf(request), request.body.settings)),
  );

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/api/v1/admin-audit',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['audit'],
        summary: 'Admin actions, oldest first',
        querystring: ListQuery,
        response: { 200: pageOf(AdminAuditView) },
      },
    },
    async (request) => {
      const page = await ctx.services.deps.store.adminAudit.list(workspaceOf(request), {
        limit: request.query.limit ?? 50,
        cursor: request.query.cursor,
      });
      return { data: page.data.map(adminAuditView), next_cursor: page.nextCursor };
    },
  );
}
