import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { RelayError } from '../../../core/errors.ts';
import type { IpConfirmationService, PendingConfirmation } from '../../../services/ip-confirmation.ts';
import { printable, utcTime } from '../../../services/ip-confirmation-mail.ts';
import type { ManagementContext } from '../context.ts';
import { escapeHtml, htmlPage } from '../html-page.ts';

const Params = Type.Object(
  { secret: Type.String({ pattern: '^[0-9A-Za-z]{40}$' }) },
  { additionalProperties: false },
);

export function ipConfirmationsOf(ctx: ManagementContext): IpConfirmationService {
  if (!ctx.ipConfirmations) throw new RelayError('service_unavailable', 'new-IP confirmation is not set up');
  return ctx.ipConfirmations;
}

function details({ confirmation: c, connectionName }: PendingConfirmation): string {
  const network = c.ipGroup === c.ip ? '' : ` (network ${c.ipGroup})`;
  const row = (term: string, value: string) => `<dt>${term}</dt><dd>${escapeHtml(value)}</dd>`;
  return (
    '<dl>' +
    row('IP', `${c.ip}${network}`) +
    row('Client', c.userAgent === null ? '(no user agent)' : printable(c.userAgent)) +
    row(
      'Connection',
      connectionName === c.connectionId ? c.connectionId : `${connectionName} (${c.connectionId})`,
    ) +
    row('Time', utcTime(Date.parse(c.createdAt))) +
    row('Link expires', utcTime(Date.parse(c.expiresAt))) +
    '</dl>'
  );
}

const SPENT_TITLE = 'This link no longer works';
const SPENT_BODY =
  '<p>It was already used, has expired, or never existed. If you still need this network, ' +
  'make the request again: Relay sends a new link.</p>';

/**
 * The page the new-IP e-mail links to (SPEC §6). The GET only shows what was
 * blocked and a button: mail scanners prefetch links, so a GET never confirms.
 * The POST confirms, once; afterwards, or after expiry, the link answers 410.
 */
export function ipConfirmationRoutes(app: FastifyInstance, ctx: ManagementContext): void {
  app.register(async (scope) => {
    // The button posts an empty HTML form; its body carries nothing we read.
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 1024 },
      (_req, _body, done) => done(null, undefined),
    );

    scope.get<{ Params: { secret: string } }>(
      '/confirm-ip/:secret',
      { config: { access: 'public' }, schema: { params: Params } },
      async (request, reply) => {
        const pending = await ipConfirmationsOf(ctx).pending(request.params.secret);
        if (!pending) return htmlPage(reply, 410, SPENT_TITLE, SPENT_BODY);
        return htmlPage(
          reply,
          200,
          'Confirm a new IP for your Relay key',
          `<p>Relay blocked a request made with ${escapeHtml(pending.recipientName)}'s key from a network it has not seen before.</p>` +
            details(pending) +
            '<p>Confirm only if this was you. Once confirmed, this network works for all your Relay keys.</p>' +
            `<form method="post" action="/confirm-ip/${escapeHtml(request.params.secret)}"><button type="submit">Confirm this IP</button></form>` +
            "<p>If this wasn't you, close this page: the request stays blocked. Tell your Relay administrator, since someone else may hold your key.</p>",
        );
      },
    );

    scope.post<{ Params: { secret: string } }>(
      '/confirm-ip/:secret',
      { config: { access: 'public' }, schema: { params: Params } },
      async (request, reply) => {
        const confirmed = await ipConfirmationsOf(ctx).confirm(request.params.secret, request.ip);
        if (!confirmed) return htmlPage(reply, 410, SPENT_TITLE, SPENT_BODY);
        return htmlPage(
          reply,
          200,
          'IP confirmed',
          `<p>${escapeHtml(confirmed.confirmation.ipGroup)} is now trusted for all of ${escapeHtml(confirmed.recipientName)}'s Relay keys. Retry the request.</p>` +
            details(confirmed),
        );
      },
    );
  });
}
