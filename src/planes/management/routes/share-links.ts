import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { RelayError } from '../../../core/errors.ts';
import type { ManagementContext } from '../context.ts';

const Params = Type.Object(
  { secret: Type.String({ pattern: '^[0-9A-Za-z]{40}$' }) },
  { additionalProperties: false },
);

const escape = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );

function page(reply: FastifyReply, status: number, title: string, body: string) {
  return reply
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escape(title)}</title>` +
        '<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}code{word-break:break-all;background:#f3f3f3;padding:.5rem;display:block}button{font-size:1rem;padding:.5rem 1rem}</style>' +
        `</head><body><h1>${escape(title)}</h1>${body}</body></html>`,
    );
}

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
        page(
          reply,
          200,
          'A Relay credential is waiting for you',
          '<p>Someone shared an API credential with you through Relay. It can be revealed <strong>once</strong>: copy it somewhere safe (an environment variable or a secret store) right away.</p>' +
            `<form method="post" action="/share/${escape(request.params.secret)}"><button type="submit">Reveal the credential</button></form>`,
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
          return page(
            reply,
            200,
            `Your credential: ${credential.name}`,
            `<p>This is shown once. Store it now; this link no longer works.</p><code>${escape(token)}</code>` +
              `<p>Expires: ${escape(credential.expiresAt ?? 'never')}. Never paste it into chats, tickets or code.</p>`,
          );
        } catch (error) {
          if (wantsJson || !(error instanceof RelayError)) throw error;
          return page(
            reply,
            410,
            'This link no longer works',
            `<p>${escape(error.detail ?? 'Already used or expired.')} Ask the sender for a new one.</p>`,
          );
        }
      },
    );
  });
}
