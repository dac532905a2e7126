import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { AuditRecord } from '../../core/audit.ts';
import type { Clock } from '../../core/clock.ts';
import type { ErrorCode } from '../../core/errors.ts';
import { newTimeOrderedId } from '../../core/ids.ts';
import { type CanonicalTarget, canonicalizeTarget } from '../../core/request-target.ts';
import { evaluateScope } from '../../core/scope.ts';
import { createScanner } from '../../core/secret-scan/index.ts';
import type { AuditSink } from '../../ports/audit-sink.ts';
import { proxyRequestChannel } from '../../services/metrics-channels.ts';
import type { CanaryHook } from '../../services/security-alerts-canary.ts';
import { identifyClient, NO_TRUSTED_PROXIES, resolveClientIp, type TrustedProxies } from '../client-ip.ts';
import { newRequestId } from '../request-id.ts';
import type { AuthCache, AuthEntry } from './auth-cache.ts';
import { msSince } from './elapsed.ts';
import { UPSTREAM_TIMEOUT_CODES } from './http1/client.ts';
import { ClientBodyError } from './http1/connection.ts';
import type { ProxyRequest } from './http1/request.ts';
import type { HeadError } from './http1/request-head.ts';
import type { ProxyResponse } from './http1/response.ts';
import { type LocatedToken, locateCredential } from './locate-credential.ts';
import { buildOutgoing, type ForwardedMode, locationAccepted, queryWithout } from './outgoing.ts';
import { type AuthFailureGuard, type ProxyPolicy, runPolicies } from './policy.ts';
import { type ExchangeOutcome, exchange } from './relay-response.ts';
import { writeDecision } from './respond.ts';
import { createScanStream, type SecretScanStream } from './scan-stream.ts';
import type { ScopeBurstDetector } from './scope-bursts.ts';
import type { Upstream, Upstreams } from './upstreams.ts';

export interface PipelineDeps {
  readonly auth: AuthCache;
  readonly upstreams: Upstreams;
  readonly audit: AuditSink;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly forwarded: ForwardedMode;
  /** Refuses addresses that failed authentication too often; told of each failure. */
  readonly authGuard: AuthFailureGuard;
  /** Told of every scope refusal, to notice a credential probing outside its scope. */
  readonly scopeBursts?: ScopeBurstDetector;
  /** Access policies run after authentication, before scope (see policy.ts). */
  readonly policies: readonly ProxyPolicy[];
  /** Largest body held for a verdict on connections whose secret scanning mode is `reject`. */
  readonly maxScannedBodyBytes: number;
  /** Above this many unwritten audit records, requests are refused: Relay never proxies unaudited. */
  readonly maxAuditBacklog: number;
  /** RELAY_TRUSTED_PROXIES: only from these is X-Forwarded-For walked and X-Client-Cert-Fingerprint read. */
  readonly trustedProxies?: TrustedProxies;
  /**
   * Decoy credentials (SPEC §8): told of each use of a credential marked `policies.canary`
   * (the only ones it acts on); true means answer as to an unknown token.
   */
  readonly canary?: CanaryHook;
}

/** What the audit record of one request accumulates as the pipeline runs. */
interface Trace {
  readonly requestId: string;
  readonly started: number;
  /** Wall clock at arrival (ms), and as ISO 8601. */
  readonly now: number;
  readonly at: string;
  readonly ip: string;
  readonly method: string;
  readonly userAgent: string | undefined;
  /** The request, for the body bytes it read; null for a request that could not be read. */
  readonly req: ProxyRequest | null;
  path: string;
  query: string | null;
  workspaceId: string;
  connectionId: string | null;
  credentialId: string | null;
  recipientId: string | null;
  upstreamMs: number | null;
  bytesOut: number;
  /** Set once the request's audit record is handed over: exactly one per request. */
  recorded: boolean;
}

/**
 * Reads a request body of at most `limit` bytes and scans it in reject mode.
 * Only for connections that reject secrets: the verdict must come before any
 * byte is forwarded, so the body is held (bounded) rather than streamed.
 */
async function readAndJudge(
  body: Readable,
  limit: number,
): Promise<{ kind: 'ok'; body: Buffer } | { kind: 'too_large' } | { kind: 'secret'; rule: string }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      body.destroy();
      return { kind: 'too_large' };
    }
    chunks.push(chunk);
  }
  const buffered = Buffer.concat(chunks, size);
  const scanner = createScanner({ mode: 'reject' });
  scanner.push(buffered);
  const { rejected } = scanner.end();
  return rejected === undefined ? { kind: 'ok', body: buffered } : { kind: 'secret', rule: rejected.rule };
}

/** Path for the audit log when the target could not be canonicalized: bounded, query dropped. */
function rawPathOf(url: string | undefined): string {
  const target = url ?? '';
  const q = target.indexOf('?');
  return (q === -1 ? target : target.slice(0, q)).slice(0, 2048);
}

function upstreamFailure(error: unknown): { code: ErrorCode; detail: string } {
  const code = (error as { code?: string }).code ?? '';
  if (UPSTREAM_TIMEOUT_CODES.has(code) || code === 'ETIMEDOUT')
    return { code: 'upstream_timeout', detail: 'the upstream did not answer in time' };
  if (code === 'RELAY_UNSAFE_UPSTREAM')
    return { code: 'upstream_unreachable', detail: 'the upstream resolves to a non-public address' };
  return { code: 'upstream_unreachable', detail: 'the upstream could not be reached' };
}

export function createPipeline(deps: PipelineDeps) {
  const { auth, upstreams, audit, clock, logger } = deps;
  // Requests of the same millisecond share one timestamp string.
  let lastMs = Number.NaN;
  let lastIso = '';
  const isoOf = (now: number): string => {
    if (now !== lastMs) {
      lastMs = now;
      lastIso = new Date(now).toISOString();
    }
    return lastIso;
  };

  const finish = (trace: Trace, decision: 'allowed' | 'blocked', status: number, reason: string | null) => {
    if (trace.recorded) return;
    trace.recorded = true;
    const record: AuditRecord = {
      workspaceId: trace.workspaceId,
      id: newTimeOrderedId('auditEvent', trace.now),
      at: trace.at,
      requestId: trace.requestId,
      connectionId: trace.connectionId,
      credentialId: trace.credentialId,
      recipientId: trace.recipientId,
      method: trace.method,
      path: trace.path,
      query: trace.query,
      decision,
      reason,
      status,
      durationMs: msSince(trace.started),
      upstreamMs: trace.upstreamMs,
      bytesIn: trace.req === null ? 0 : trace.req.bodyBytes,
      bytesOut: trace.bytesOut,
      ip: trace.ip,
      userAgent: trace.userAgent === undefined ? null : trace.userAgent.slice(0, 512),
    };
    audit.record(record);
    // Metrics hang on this channel (services/metrics-channels.ts); without subscribers it costs a property read.
    if (proxyRequestChannel.hasSubscribers) proxyRequestChannel.publish({ record, sink: audit });
  };

  /** An authentication failure: refused like any other, and counted against the address. */
  const refuseAuth = (res: ProxyResponse, trace: Trace, code: ErrorCode, detail: string) => {
    deps.authGuard.failed(trace.ip, trace.requestId);
    refuse(res, trace, code, detail);
  };

  const refuse = (
    res: ProxyResponse,
    trace: Trace,
    code: ErrorCode,
    detail?: string,
    headers?: Readonly<Record<string, string>>,
  ) => {
    const status = writeDecision(res, code, detail, trace.requestId, headers);
    finish(trace, 'blocked', status, code);
  };

  const logScanFindings = (trace: Trace, upstream: Upstream, scanner: SecretScanStream) => {
    const rules = [...new Set(scanner.findings.map((f) => f.rule))];
    const mode = upstream.connection.options.secret_scanning;
    logger.warn(
      { request_id: trace.requestId, connection_id: upstream.connection.id, rules, mode },
      'secret detected in request body',
    );
  };

  /**
   * The pipeline runs synchronously while everything it needs is in memory (the
   * usual case: a cached credential and connection, policies answered from memory)
   * and continues from a promise only where it must wait. No promise is made for a
   * step that does not wait.
   */
  type Step<T> = (value: T) => void;

  /** Runs `step`; if it throws, the request ends as Relay's own failure. */
  function guarded(trace: Trace, res: ProxyResponse, step: () => void): void {
    try {
      step();
    } catch (error) {
      failed(trace, res, error);
    }
  }

  /**
   * Runs `next` with `value` now, or once it resolves. A rejection goes to `onError`
   * when given (a failure the request answers in its own way), else ends the request
   * as Relay's own failure, as does anything either step throws.
   */
  function then<T>(
    trace: Trace,
    res: ProxyResponse,
    value: T | Promise<T>,
    next: Step<T>,
    onError?: Step<unknown>,
  ): void {
    if (!(value instanceof Promise)) {
      next(value);
      return;
    }
    value.then(
      (resolved) => guarded(trace, res, () => next(resolved)),
      (error: unknown) =>
        onError === undefined ? failed(trace, res, error) : guarded(trace, res, () => onError(error)),
    );
  }

  /** A failure of Relay's own: answered recognisably (500 or a cut connection) and audited, once. */
  function failed(trace: Trace, res: ProxyResponse, error: unknown): void {
    logger.error(
      {
        request_id: trace.requestId,
        err: { message: (error as Error).message, stack: (error as Error).stack },
      },
      'proxy pipeline error',
    );
    if (!res.headersSent) {
      const status = writeDecision(res, 'internal_error', undefined, trace.requestId);
      finish(trace, 'blocked', status, 'internal_error');
    } else {
      res.destroy();
      finish(trace, 'allowed', res.statusCode, 'internal_error');
    }
  }

  /** What the steps after authentication share. */
  interface Authenticated {
    readonly req: ProxyRequest;
    readonly res: ProxyResponse;
    readonly trace: Trace;
    readonly client: ReturnType<typeof identifyClient>;
    readonly target: CanonicalTarget;
    readonly found: LocatedToken;
    readonly entry: AuthEntry;
  }

  function forward(a: Authenticated, upstream: Upstream): void {
    let current: string | Promise<string>;
    try {
      current = upstream.credential();
    } catch (error) {
      tokenFailed(a, upstream, error);
      return;
    }
    then(
      a.trace,
      a.res,
      current,
      (secret) => send(a, upstream, secret),
      (error) => tokenFailed(a, upstream, error),
    );
  }

  function tokenFailed(a: Authenticated, upstream: Upstream, error: unknown): void {
    logger.warn(
      {
        request_id: a.trace.requestId,
        connection_id: upstream.connection.id,
        err: { message: (error as Error).message },
      },
      'upstream token fetch failed',
    );
    const status = writeDecision(
      a.res,
      'upstream_unreachable',
      'could not obtain an access token for the upstream',
      a.trace.requestId,
    );
    finish(a.trace, 'allowed', status, 'upstream_unreachable');
  }

  function send(a: Authenticated, upstream: Upstream, secret: string): void {
    const { req, res, trace } = a;
    const outgoing = buildOutgoing(req.headers, a.target, upstream, a.found, secret, {
      mode: deps.forwarded,
      clientIp: trace.ip,
      host: typeof req.headers.host === 'string' ? req.headers.host : undefined,
    });
    if (req.body === null) {
      dispatch(a, upstream, outgoing, null, undefined);
      return;
    }
    const mode = upstream.connection.options.secret_scanning;
    if (mode === 'reject') {
      // Nothing may reach the upstream before the verdict: read the body (bounded), then judge it.
      then(
        trace,
        res,
        readAndJudge(req.body, deps.maxScannedBodyBytes),
        (verdict) => judged(a, upstream, outgoing, verdict),
        (error) => bodyFailed(res, trace, error),
      );
      return;
    }
    if (mode === 'warn' || mode === 'redact') {
      const scanner = createScanStream({ mode });
      const body = req.body.pipe(scanner);
      // A body in error fails the scanner too, so the upstream request sees it end badly.
      req.body.once('error', (error) => scanner.destroy(error));
      // Redaction changes the length: the body goes out chunked.
      if (mode === 'redact') delete outgoing.headers['content-length'];
      dispatch(a, upstream, outgoing, body, scanner);
      return;
    }
    dispatch(a, upstream, outgoing, req.body, undefined);
  }

  function judged(
    a: Authenticated,
    upstream: Upstream,
    outgoing: ReturnType<typeof buildOutgoing>,
    verdict: Awaited<ReturnType<typeof readAndJudge>>,
  ): void {
    const { res, trace } = a;
    if (verdict.kind === 'too_large') {
      const status = writeDecision(
        res,
        'payload_too_large',
        `bodies scanned for secrets are limited to ${deps.maxScannedBodyBytes} bytes`,
        trace.requestId,
      );
      finish(trace, 'blocked', status, 'payload_too_large');
      return;
    }
    if (verdict.kind === 'secret') {
      logger.warn(
        { request_id: trace.requestId, connection_id: upstream.connection.id, rule: verdict.rule },
        'request body refused: secret detected',
      );
      const status = writeDecision(
        res,
        'secret_detected',
        `the request body contains a secret (${verdict.rule}); it was not forwarded`,
        trace.requestId,
      );
      finish(trace, 'blocked', status, 'secret_detected');
      return;
    }
    outgoing.headers['content-length'] = String(verdict.body.length);
    dispatch(a, upstream, outgoing, verdict.body, undefined);
  }

  function dispatch(
    a: Authenticated,
    upstream: Upstream,
    outgoing: ReturnType<typeof buildOutgoing>,
    body: Readable | Buffer | null,
    scanner: SecretScanStream | undefined,
  ): void {
    const { res, trace } = a;
    exchange(
      upstream.client,
      { method: trace.method, path: outgoing.path, headers: outgoing.headers, body },
      res,
      trace,
      (outcome) => {
        // Inline rather than guarded(): no closure per request on the hot path.
        try {
          answered(a, upstream, scanner, outcome);
        } catch (error) {
          failed(trace, res, error);
        }
      },
    );
  }

  function answered(
    a: Authenticated,
    upstream: Upstream,
    scanner: SecretScanStream | undefined,
    outcome: ExchangeOutcome,
  ): void {
    const { req, res, trace } = a;
    const scanned = scanner !== undefined && scanner.findingCount > 0;
    if (scanned) logScanFindings(trace, upstream, scanner as SecretScanStream);
    switch (outcome.kind) {
      case 'delivered':
        finish(trace, 'allowed', outcome.status, scanned ? 'secret_detected' : null);
        return;
      case 'no_response': {
        if (outcome.clientClosed) {
          finish(trace, 'allowed', 499, 'client_closed');
          return;
        }
        if (req.body !== null && req.body.errored instanceof ClientBodyError) {
          bodyFailed(res, trace, req.body.errored);
          return;
        }
        const failure = upstreamFailure(outcome.error);
        const status = writeDecision(res, failure.code, failure.detail, trace.requestId);
        finish(trace, 'allowed', status, failure.code);
        return;
      }
      case 'cut_short': {
        const reason = outcome.clientClosed ? 'client_closed' : upstreamFailure(outcome.error).code;
        finish(trace, 'allowed', outcome.status, reason);
        return;
      }
      case 'internal':
        throw outcome.error;
    }
  }

  /** The client's body ended badly: malformed framing is refused (400); a client that left gets nothing. */
  function bodyFailed(res: ProxyResponse, trace: Trace, error: unknown): void {
    if (error instanceof ClientBodyError && error.malformed) {
      const status = writeDecision(res, 'malformed_request', error.message, trace.requestId);
      finish(trace, 'blocked', status, 'malformed_request');
      return;
    }
    if (error instanceof ClientBodyError) {
      res.destroy();
      finish(trace, 'allowed', 499, 'client_closed');
      return;
    }
    throw error;
  }

  function newTrace(req: ProxyRequest | null, ip: string, method: string, url: string): Trace {
    const now = clock.now();
    const ua = req?.headers['user-agent'];
    return {
      requestId: newRequestId(),
      started: performance.now(),
      now,
      at: isoOf(now),
      ip,
      method,
      userAgent: typeof ua === 'string' ? ua : undefined,
      req,
      path: rawPathOf(url),
      query: null,
      workspaceId: '',
      connectionId: null,
      credentialId: null,
      recipientId: null,
      upstreamMs: null,
      bytesOut: 0,
      recorded: false,
    };
  }

  function handle(
    req: ProxyRequest,
    res: ProxyResponse,
    trace: Trace,
    client: ReturnType<typeof identifyClient>,
  ): void {
    if (audit.backlog > deps.maxAuditBacklog) {
      refuse(
        res,
        trace,
        'service_unavailable',
        'audit log backlog: request refused rather than proxied unaudited',
      );
      return;
    }

    // 1. Parse and canonicalize: what could be read two ways is refused before anything else.
    const canonical = canonicalizeTarget(req.url);
    if (!canonical.ok) {
      refuse(res, trace, canonical.error.code, canonical.error.detail);
      return;
    }
    const target = canonical.value;
    trace.path = target.path;

    // 2. Authenticate: by SHA-256 hash, from memory when cached; an address that keeps
    // failing is refused before any lookup.
    const throttled = deps.authGuard.blocked(trace.ip);
    if (throttled) {
      refuse(res, trace, throttled.code, throttled.detail, throttled.headers);
      return;
    }
    const located = locateCredential(req.headers, target.query);
    if (located.status === 'conflict') {
      refuse(res, trace, 'ambiguous_request', 'the request carries two different Relay credentials');
      return;
    }
    if (located.status === 'none') {
      refuseAuth(res, trace, 'unauthenticated', 'Invalid or missing API key');
      return;
    }
    const found = located.found;
    const { hash, entry: cached } = auth.peek(found.token);
    then(trace, res, cached ?? auth.load(hash), (entry) => {
      if (!entry) {
        refuseAuth(res, trace, 'unauthenticated', 'Invalid or missing API key');
        return;
      }
      authenticated({ req, res, trace, client, target, found, entry });
    });
  }

  function authenticated(a: Authenticated): void {
    const { res, trace, target } = a;
    const { credential, recipient } = a.entry;
    trace.workspaceId = credential.workspaceId;
    trace.credentialId = credential.id;
    trace.recipientId = credential.recipientId;
    trace.connectionId = target.connectionId;
    // A canary gets exactly the unknown token's answer; the event is raised off the request path.
    // (Only a decoy's use is described to the hook: no object is built for every request.)
    if (
      credential.policies.canary === true &&
      deps.canary?.(credential, {
        ip: trace.ip,
        userAgent: trace.userAgent,
        method: trace.method,
        path: trace.path,
        connectionId: target.connectionId,
        requestId: trace.requestId,
      })
    ) {
      refuseAuth(res, trace, 'unauthenticated', 'Invalid or missing API key');
      return;
    }

    // 3. Policies: status and expiry (401, no grace), then network rules.
    if (credential.revokedAt !== null || (recipient !== null && recipient.revokedAt !== null)) {
      refuseAuth(res, trace, 'unauthenticated', 'Invalid or missing API key');
      return;
    }
    if (credential.expiresAt !== null && Date.parse(credential.expiresAt) <= trace.now) {
      refuseAuth(res, trace, 'token_expired', 'API key expired');
      return;
    }
    const known = upstreams.peek(credential.workspaceId, target.connectionId);
    then(trace, res, known ?? upstreams.load(credential.workspaceId, target.connectionId), (upstream) => {
      // Unknown connection: 404, told only to a valid credential.
      if (!upstream) {
        refuse(res, trace, 'connection_not_found', `no connection ${target.connectionId}`);
        return;
      }
      withUpstream(a, upstream);
    });
  }

  function withUpstream(a: Authenticated, upstream: Upstream): void {
    const { req, res, trace, target, found } = a;
    if (upstream.connection.options.log_query_strings && target.rawQuery !== '') {
      // The caller's token may ride in the query (query-auth connections): never log it.
      const { authType, authConfig } = upstream.connection;
      const keyParam = authType === 'query' ? authConfig.query_param : undefined;
      trace.query = queryWithout(target, keyParam, found.token).slice(0, 2048);
    }
    if (!locationAccepted(found, upstream)) {
      refuseAuth(res, trace, 'unauthenticated', 'Invalid or missing API key');
      return;
    }

    // 3b. Access policies, in order (lockdown, network, confirmation, geo, certificates, rate).
    const verdict = runPolicies(deps.policies, {
      req,
      requestId: trace.requestId,
      clientIp: trace.ip,
      clientCertFingerprint: a.client.certFingerprint,
      entry: a.entry,
      upstream,
      target,
      now: trace.now,
    });
    then(trace, res, verdict, (refusal) => {
      if (refusal) {
        refuse(res, trace, refusal.code, refusal.detail, refusal.headers);
        return;
      }
      permitted(a, upstream);
    });
  }

  function permitted(a: Authenticated, upstream: Upstream): void {
    const { req, res, trace, target } = a;
    const { credential } = a.entry;
    // 4. Scope, default deny: the upstream is never contacted on refusal.
    const scope = evaluateScope({
      grants: credential.grants,
      connectionId: target.connectionId,
      method: trace.method,
      target,
      headers: (name) => {
        const v = req.headers[name];
        return Array.isArray(v) ? v.join(',') : v;
      },
    });
    if (!scope.ok) {
      deps.scopeBursts?.refused(credential.workspaceId, credential.id, trace.ip, scope.error.code);
      refuse(res, trace, scope.error.code, scope.error.detail);
      return;
    }

    // 6–8. Inject, forward and stream, audit.
    forward(a, upstream);
  }

  const request = (req: ProxyRequest, res: ProxyResponse): void => {
    // Who is calling: socket address and certificate, or what a trusted proxy vouches for.
    const client = identifyClient(req.socket, req.headers, deps.trustedProxies ?? NO_TRUSTED_PROXIES);
    const trace = newTrace(req, client.ip, req.method, req.url);
    try {
      handle(req, res, trace, client);
    } catch (error) {
      failed(trace, res, error);
    }
  };

  /** A request that could not be read (http1/request-head.ts): refused, audited like any other. */
  const refused = (refusal: HeadError, res: ProxyResponse, socket: Socket): void => {
    const ip = resolveClientIp(socket.remoteAddress, undefined, NO_TRUSTED_PROXIES);
    const trace = newTrace(null, ip, refusal.method.slice(0, 32), refusal.target);
    const status = writeDecision(res, refusal.code, refusal.detail, trace.requestId);
    finish(trace, 'blocked', status, refusal.code);
  };

  return { request, refused };
}
