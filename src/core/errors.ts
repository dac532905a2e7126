/**
 * The one registry of error codes Relay answers with. Every refusal, validation
 * failure and internal error maps to exactly one entry here; `docs/errors.md`
 * documents each code and a test keeps the two in step (as Fastify's
 * `lib/errors.js` does).
 *
 * Responses are RFC 9457 `application/problem+json` documents built at the edge.
 */

export interface ErrorDefinition {
  readonly code: string;
  readonly status: number;
  readonly title: string;
}

function define(code: string, status: number, title: string): ErrorDefinition {
  return Object.freeze({ code, status, title });
}

export const ERRORS = Object.freeze({
  // 400 — the request itself is malformed or ambiguous
  validation_failed: define('validation_failed', 400, 'Request validation failed'),
  invalid_json: define('invalid_json', 400, 'Request body is not valid JSON'),
  ambiguous_request: define('ambiguous_request', 400, 'Request could be read two ways'),
  malformed_request: define('malformed_request', 400, 'Request is not well-formed HTTP/1.1'),
  invalid_base_url: define('invalid_base_url', 400, 'Connection base URL is not allowed'),
  unsafe_upstream: define('unsafe_upstream', 400, 'Upstream address is private, loopback or link-local'),
  invalid_auth_config: define('invalid_auth_config', 400, 'Connection auth settings are incomplete'),
  invalid_scope: define('invalid_scope', 400, 'Credential scope is invalid'),
  invalid_expiry: define('invalid_expiry', 400, 'Expiry is invalid'),
  // 401 — who are you?
  unauthenticated: define('unauthenticated', 401, 'Invalid or missing API key'),
  token_expired: define('token_expired', 401, 'API key expired'),
  // 403 — known, but not allowed
  forbidden: define('forbidden', 403, 'Not allowed'),
  method_not_allowed: define('method_not_allowed', 403, 'Method not allowed by credential scope'),
  path_not_allowed: define('path_not_allowed', 403, 'Path not allowed by credential scope'),
  connection_not_granted: define('connection_not_granted', 403, 'Connection not granted to this credential'),
  query_param_denied: define('query_param_denied', 403, 'Query parameter denied by credential scope'),
  ip_not_allowed: define('ip_not_allowed', 403, 'Client IP not allowed'),
  geo_not_allowed: define('geo_not_allowed', 403, 'Client country not allowed'),
  client_certificate_required: define(
    'client_certificate_required',
    403,
    'A registered client certificate is required',
  ),
  workspace_locked: define('workspace_locked', 403, 'Workspace is in lockdown'),
  outside_bounds: define('outside_bounds', 403, "Outside the provisioner token's bounds"),
  method_override_refused: define('method_override_refused', 403, 'Method-override headers are refused'),
  // 404 / 409
  not_found: define('not_found', 404, 'Not found'),
  connection_not_found: define('connection_not_found', 404, 'Unknown connection'),
  conflict: define('conflict', 409, 'Conflicts with the current state'),
  recipient_revoked: define('recipient_revoked', 409, 'Recipient is revoked'),
  share_link_spent: define('share_link_spent', 410, 'Share link already used or expired'),
  new_ip_confirmation_required: define(
    'new_ip_confirmation_required',
    423,
    'New IP address awaiting confirmation',
  ),
  request_timeout: define('request_timeout', 408, 'Request head not received in time'),
  expectation_failed: define('expectation_failed', 417, 'Expectation not supported'),
  rate_limited: define('rate_limited', 429, 'Rate limit exceeded'),
  too_many_auth_failures: define(
    'too_many_auth_failures',
    429,
    'Too many authentication failures from this address',
  ),
  // 413 / 415 / 422
  payload_too_large: define('payload_too_large', 413, 'Request body too large'),
  unsupported_media_type: define('unsupported_media_type', 415, 'Unsupported media type'),
  secret_detected: define('secret_detected', 422, 'Request body contains a secret'),
  risk_acknowledgement_required: define(
    'risk_acknowledgement_required',
    422,
    'High-risk scope: acknowledge the safety review findings to issue',
  ),
  headers_too_large: define('headers_too_large', 431, 'Request header fields too large'),
  // 5xx
  upstream_unreachable: define('upstream_unreachable', 502, 'Upstream could not be reached'),
  upstream_timeout: define('upstream_timeout', 504, 'Upstream timed out'),
  internal_error: define('internal_error', 500, 'Internal error'),
  service_unavailable: define('service_unavailable', 503, 'Service unavailable'),
  transfer_coding_not_supported: define(
    'transfer_coding_not_supported',
    501,
    'Transfer coding not supported',
  ),
  http_version_not_supported: define('http_version_not_supported', 505, 'HTTP version not supported'),
});

export type ErrorCode = keyof typeof ERRORS;

/** An expected failure, carried as a value inside the core and thrown only by the planes. */
export interface Problem {
  readonly code: ErrorCode;
  readonly detail?: string;
  /** Field-level detail for validation failures: `[{path, message}]`. */
  readonly errors?: ReadonlyArray<{ readonly path: string; readonly message: string }>;
}

export type Result<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: Problem };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = <T = never>(code: ErrorCode, detail?: string, errors?: Problem['errors']): Result<T> => ({
  ok: false,
  error: { code, ...(detail === undefined ? {} : { detail }), ...(errors === undefined ? {} : { errors }) },
});

/** Thrown by services and planes; the edge turns it into problem+json. */
export class RelayError extends Error {
  readonly code: ErrorCode;
  readonly detail: string | undefined;
  readonly errors: Problem['errors'];
  constructor(code: ErrorCode, detail?: string, errors?: Problem['errors']) {
    super(detail ?? ERRORS[code].title);
    this.name = 'RelayError';
    this.code = code;
    this.detail = detail;
    this.errors = errors;
  }

  static from(problem: Problem): RelayError {
    return new RelayError(problem.code, problem.detail, problem.errors);
  }
}

/** Unwraps a Result or throws its problem as a RelayError. */
export function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  throw RelayError.from(result.error);
}
