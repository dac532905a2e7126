import type { Static } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IssueCredentialInput, IssuedCredential } from '../../../services/credentials.ts';
import { actorOf, type ManagementContext, workspaceOf } from '../context.ts';
import { credentialView, issuedCredentialView } from '../present.ts';
import {
  CredentialCreate,
  CredentialView,
  DelegatedCredentialCreate,
  IdParams,
  IssuedCredentialView,
  ListQuery,
  pageOf,
} from '../schemas.ts';

const tags = ['credentials'];
const CredentialListQuery = Type.Object(
  { ...ListQuery.properties, recipient_id: Type.Optional(Type.String({ maxLength: 100 })) },
  { additionalProperties: false },
);

export function credentialRoutes(app: FastifyInstance, ctx: ManagementContext): void {
  const { credentials } = ctx.services;

  const issued = (credential: IssuedCredential) => issuedCredentialView(credential, ctx.clock.now(), ctx);
  /** A provisioner mints only within the bounds set on its token; admins are unbounded. */
  const optionsFor = (request: FastifyRequest) =>
    request.principal?.role === 'provisioner' && request.principal.bounds
      ? { bounds: request.principal.bounds }
      : {};

  app.post<{ Body: Static<typeof CredentialCreate> }>(
    '/api/v1/credentials',
    {
      config: { access: 'provision' },
      schema: {
        tags,
        summary: 'Issue a scoped credential (token shown once)',
        body: CredentialCreate,
        response: { 201: IssuedCredentialView },
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(issued(await credentials.issue(actorOf(request), request.body, optionsFor(request)))),
  );

  app.post<{ Body: Static<typeof DelegatedCredentialCreate> }>(
    '/api/v1/delegated-credentials',
    {
      config: { access: 'provision' },
      schema: {
        tags,
        summary: 'Issue a single-connection credential (seed 004 shape)',
        body: DelegatedCredentialCreate,
        response: { 201: IssuedCredentialView },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const input: IssueCredentialInput = {
        name: body.name,
        grants: [
          {
            connection_id: body.connection_id,
            allowed_methods: body.allowed_methods,
            allowed_paths: body.allowed_paths,
            ...(body.deny_query_params === undefined ? {} : { deny_query_params: body.deny_query_params }),
          },
        ],
        ttl_seconds: body.ttl_seconds,
        ...(body.acknowledge_risks === undefined ? {} : { acknowledge_risks: body.acknowledge_risks }),
      };
      return reply
        .code(201)
        .send(issued(await credentials.issue(actorOf(request), input, optionsFor(request))));
    },
  );

  app.get<{ Querystring: Static<typeof CredentialListQuery> }>(
    '/api/v1/credentials',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: 'List credentials (never their tokens)',
        querystring: CredentialListQuery,
        response: { 200: pageOf(CredentialView) },
      },
    },
    async (request) => {
      const { limit, cursor, recipient_id } = request.query;
      const page = await credentials.list(workspaceOf(request), {
        limit: limit ?? 50,
        cursor,
        recipientId: recipient_id,
      });
      const now = ctx.clock.now();
      return { data: page.data.map((c) => credentialView(c, now)), next_cursor: page.nextCursor };
    },
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/api/v1/credentials/:id',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: 'Get a credential (never its token)',
        params: IdParams,
        response: { 200: CredentialView },
      },
    },
    async (request) =>
      credentialView(await credentials.get(workspaceOf(request), request.params.id), ctx.clock.now()),
  );

  app.post<{ Params: Static<typeof IdParams> }>(
    '/api/v1/credentials/:id/revoke',
    {
      config: { access: 'provision' },
      schema: {
        tags,
        summary: 'Revoke a credential at once (a provisioner: only those it minted)',
        params: IdParams,
        response: { 200: CredentialView },
      },
    },
    async (request) => {
      const principal = request.principal;
      const options = principal?.role === 'provisioner' ? { onlyCreatedBy: principal.id } : {};
      return credentialView(
        await credentials.revoke(actorOf(request), request.params.id, options),
        ctx.clock.now(),
      );
    },
  );
}
