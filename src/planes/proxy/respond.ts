import type { ErrorCode } from '../../core/errors.ts';
import { PROBLEM_CONTENT_TYPE, problemDocument } from '../problem.ts';
import type { ProxyResponse } from './http1/response.ts';

/**
 * Writes one of Relay's own decisions: problem+json with `code` and `request_id`,
 * and `Relay-Decision: <code>` so a caller can tell Relay's refusal from the
 * upstream's own 401/403/404.
 */
export function writeDecision(
  res: ProxyResponse,
  code: ErrorCode,
  detail: string | undefined,
  requestId: string,
  extraHeaders: Readonly<Record<string, string>> = {},
): number {
  const doc = problemDocument(detail === undefined ? { code } : { code, detail }, requestId);
  // `error` is an RFC 9457 extension member: vendor SDKs (stripe-node) only raise when the
  // body has one, and would otherwise take a refusal for success.
  const body = JSON.stringify({
    ...doc,
    error: { type: 'relay_error', code: doc.code, message: doc.detail },
  });
  if (res.headersSent) {
    res.destroy();
    return doc.status;
  }
  res.writeHead(doc.status, {
    'content-type': PROBLEM_CONTENT_TYPE,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'relay-decision': code,
    'x-request-id': requestId,
    ...extraHeaders,
  });
  res.end(body);
  return doc.status;
}
