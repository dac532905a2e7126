import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { RelayError } from '../../../core/errors.ts';
import type { ManagementContext } from '../context.ts';

/** GitHub sends small batches; this bounds what an unauthenticated caller can make Relay hash and verify. */
export const LEAK_REPORT_BODY_LIMIT = 256 * 1024;

const Answer = Type.Object({
  token_raw: Type.String(),
  token_type: Type.String(),
  label: Type.Unsafe<string>({ type: 'string', enum: ['true_positive', 'false_positive'] }),
});

const header = (value: string | string[] | undefined): string | undefined =>
  typeof value === 'string' ? value.trim() : undefined;

/**
 * GitHub secret-scanning partner program endpoint (SPEC §8). Public: the
 * request is authenticated by its ECDSA signature over the raw body, which is
 * why the body is read as bytes here (a parsed and re-serialised body would
 * not verify). Register `POST <public API URL>/api/v1/leak-reports/github`
 * with GitHub; docs/secret-scanning.md gives the token formats.
 */
export function leakReportRoutes(app: FastifyInstance, ctx: ManagementContext): void {
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      'application/json',
      { parseAs: 'buffer', bodyLimit: LEAK_REPORT_BODY_LIMIT },
      (_request, body, done) => done(null, body),
    );
    scope.post(
      '/api/v1/leak-reports/github',
      {
        config: { access: 'public' },
        bodyLimit: LEAK_REPORT_BODY_LIMIT,
        // No body schema: the body is GitHub's JSON array, verified as bytes and then parsed by the service.
        schema: {
          tags: ['leak-reports'],
          summary:
            'Leak report from GitHub secret scanning: a JSON array of {token, type, url, source}, signed (Github-Public-Key-Identifier, Github-Public-Key-Signature)',
          response: { 200: Type.Array(Answer) },
        },
      },
      async (request) => {
        if (!ctx.security) throw new RelayError('service_unavailable', 'leak reports are not available here');
        const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        return ctx.security.leakReports.handle(
          {
            body,
            keyIdentifier: header(request.headers['github-public-key-identifier']),
            signature: header(request.headers['github-public-key-signature']),
            ip: request.ip,
          },
          'github',
        );
      },
    );
  });
}
