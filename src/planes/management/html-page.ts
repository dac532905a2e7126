import type { FastifyReply } from 'fastify';

/** Escapes text for HTML content and double- or single-quoted attributes. */
export const escapeHtml = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );

/**
 * A small self-contained HTML page for the public link pages (share links,
 * new-IP confirmation): no script, no external resource, no framing, no
 * referrer (the URL carries a secret). `title` is escaped; `body` is trusted
 * markup whose dynamic parts the caller escaped.
 */
export function htmlPage(reply: FastifyReply, status: number, title: string, body: string) {
  return reply
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(title)}</title>` +
        '<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}code{word-break:break-all;background:#f3f3f3;padding:.5rem;display:block}button{font-size:1rem;padding:.5rem 1rem}dt{font-weight:600}dd{margin:0 0 .5rem 0}</style>' +
        `</head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`,
    );
}
