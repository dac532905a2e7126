import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { RelayError } from '../../../core/errors.ts';
import type { ManagementContext } from '../context.ts';
import { escapeHtml, htmlPage } from '../html-page.ts';

const Params = Type.Object(
  { secret: Type.String({ pattern: '^[0-9A-Za-z]{40}$' }) },
  { additionalProperties: false },
);

/**
 * One-time pickup of a credential (SPEC §5). The GET only shows a button: mail
 * and chat scanners prefetch links, so a plain GET must never spend the link.
 * The POST reveals the token once; afterwards the link answers 410.
 */
export function shareLinkRoutes(app: FastifyInstance, ctx: ManagementContext): void {
  app.register(async (scope) => {
    // The confirm button posts an empty HTML form; its body carries nothing we read.
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 1024 },
      (_req, _body, done) => done(null, undefined),
    );

    scope.get<{ Params: { secret: string } }>(
      '/share/:secret',
      { config: { access: 'public' }, schema: { params: Params } },
      async (request, reply) =>
        htmlPage(
          reply,
          200,
          'A Relay credential is waiting for you',
          '<p>Someone shared an API credential with you through Relay. It can be revealed <strong>once</strong>: copy it somewhere safe (an environment variable or a secret store) right away.</p>' +
            `<form method="post" action="/share/${escapeHtml(request.params.secret)}"><button type="submit">Reveal the credential</button></form>`,
        ),
    );

    scope.post<{ Params: { secret: string } }>(
      '/share/:secret',
      { config: { access: 'public' }, schema: { params: Params } },
      async (request, reply) => {
        const wantsJson = (request.headers.accept ?? '').includes('application/json');
        try {
          const { credential, token } = await ctx.services.credentials.openShareLink(request.params.secret);
          reply.header('cache-control', 'no-store');
          if (wantsJson)
            return {
              credential_id: credential.id,
              name: credential.name,
              token,
              expires_at: credential.expiresAt,
            };
          return htmlPage(
            reply,
            200,
            `Your credential: ${credential.name}`,
            `<p>This is shown once. Store it now; this link no longer works.</p><code>${escapeHtml(token)}</code>` +
              `<p>Expires: ${escapeHtml(credential.expiresAt ?? 'never')}. Never paste it into chats, tickets or code.</p>`,
          );
        } catch (error) {
          if (wantsJson || !(error instanceof RelayError)) throw error;
          return htmlPage(
            reply,
            410,
            'This link no longer works',
            `<p>${escapeHtml(error.detail ?? 'Already used or expired.')} Ask the sender for a new one.</p>`,
          );
        }
      },
    );
  });
}
