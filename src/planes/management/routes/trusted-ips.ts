import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { TrustedIp } from '../../../ports/store.ts';
import { actorOf, type ManagementContext, workspaceOf } from '../context.ts';
import { DateTime, IdParams, pageOf } from '../schemas.ts';
import { ipConfirmationsOf } from './ip-confirmations.ts';

const tags = ['recipients'];

const TrustedIpView = Type.Object(
  {
    ip_group: Type.String({
      description: 'The trusted network: an IPv4 address, an IPv6 /64, or a shared egress range',
    }),
    first_ip: Type.String({ description: 'The address it was first seen from' }),
    source: Type.Unsafe<'first_use' | 'confirmed'>({ type: 'string', enum: ['first_use', 'confirmed'] }),
    created_at: DateTime,
  },
  { $id: 'TrustedIp' },
);

const TrustedIpParams = Type.Object(
  {
    id: IdParams.properties.id,
    ip: Type.String({
      minLength: 1,
      maxLength: 100,
      description:
        'An address in the network, or the network itself (URL-encoded, e.g. 2001%3Adb8%3A%3A%2F64)',
    }),
  },
  { additionalProperties: false },
);

export function trustedIpView(t: TrustedIp) {
  return { ip_group: t.ipGroup, first_ip: t.firstIp, source: t.source, created_at: t.createdAt };
}

/** The networks a recipient's new-IP confirmation trusts (SPEC §6, §13). */
export function trustedIpRoutes(app: FastifyInstance, ctx: ManagementContext): void {
  app.get<{ Params: Static<typeof IdParams> }>(
    '/api/v1/recipients/:id/trusted-ips',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: "List the networks a recipient's new-IP confirmation trusts",
        params: IdParams,
        response: { 200: pageOf(TrustedIpView) },
      },
    },
    async (request) => {
      const trusted = await ipConfirmationsOf(ctx).listTrusted(workspaceOf(request), request.params.id);
      return { data: trusted.map(trustedIpView), next_cursor: null };
    },
  );

  app.delete<{ Params: Static<typeof TrustedIpParams> }>(
    '/api/v1/recipients/:id/trusted-ips/:ip',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Stop trusting a network: its next call needs a new confirmation',
        params: TrustedIpParams,
      },
    },
    async (request, reply) => {
      await ipConfirmationsOf(ctx).removeTrusted(actorOf(request), request.params.id, request.params.ip);
      return reply.code(204).send();
    },
  );
}
