import { UPSTREAM_PATH, UPSTREAM_SECRET } from './protocol.ts';
import { callApi, callApiWhenUp, field } from './relay-api.ts';

export const RELAY_CONNECTION_ID = 'conn_bench';

/**
 * Through the management API (SPEC §13): a connection to the fake upstream with
 * its real key, and a credential allowed exactly the bench request, so that
 * every request passes every check and is forwarded. Returns the proxy token.
 */
/** BENCH_POLICIES=none measures the bare path; the default turns every access policy on. */
export function policiesOn(): boolean {
  return (process.env['BENCH_POLICIES'] ?? 'all') !== 'none';
}

function basicCredential() {
  return {
    name: 'bench',
    grants: [{ connection_id: RELAY_CONNECTION_ID, allowed_methods: ['GET'], allowed_paths: ['/v1/**'] }],
    ip_mode: 'none',
    acknowledge_risks: true,
  };
}

/** A rate-limit profile the bench can never exhaust: it is measured, not hit. */
const BENCH_PROFILE = { per_minute: 1_000_000, burst: 1_000_000 };

/**
 * Every access policy on, each passing (issue 5, point 8): a workspace IP
 * allowlist and geo rule, a connection geo rule and secret scanning, and a
 * person's credential with new-IP confirmation (the bench's address is trusted
 * on first use), a geo rule and a rate-limit profile. The brute-force guard is
 * always on. (mTLS needs Relay to terminate TLS, a different deployment: not here.)
 */
async function everyPolicy(apiOrigin: string, adminToken: string) {
  const workspace = await callApi(apiOrigin, adminToken, 'PATCH', '/api/v1/workspace', {
    settings: {
      ip_allowlist: ['127.0.0.0/8', '::1/128'],
      geo: { block: ['KP'] },
      rate_limit_profiles: { bench: BENCH_PROFILE },
    },
  });
  if (workspace.status !== 200)
    throw new Error(`PATCH /api/v1/workspace answered ${workspace.status}: ${workspace.text.slice(0, 300)}`);
  const connection = await callApi(
    apiOrigin,
    adminToken,
    'PATCH',
    `/api/v1/connections/${RELAY_CONNECTION_ID}`,
    {
      options: { geo: { block: ['KP'] }, secret_scanning: 'warn' },
    },
  );
  if (connection.status !== 200)
    throw new Error(`PATCH connection answered ${connection.status}: ${connection.text.slice(0, 300)}`);
  const recipient = await callApi(apiOrigin, adminToken, 'POST', '/api/v1/recipients', {
    name: 'Bench Person',
    kind: 'human',
    email: 'bench@example.com',
  });
  const recipientId = field(recipient.body, 'id');
  if (recipient.status !== 201 || typeof recipientId !== 'string') {
    throw new Error(`POST /api/v1/recipients answered ${recipient.status}: ${recipient.text.slice(0, 300)}`);
  }
  return {
    name: 'bench',
    recipient_id: recipientId,
    grants: [{ connection_id: RELAY_CONNECTION_ID, allowed_methods: ['GET'], allowed_paths: ['/v1/**'] }],
    ip_mode: 'confirm_new_ip',
    geo: { block: ['KP'] },
    rate_limit_profile: 'bench',
    ttl_seconds: 86_400,
  };
}

export async function provisionBenchCredential(
  apiOrigin: string,
  adminToken: string,
  upstreamOrigin: string,
): Promise<string> {
  const connection = await callApiWhenUp(
    apiOrigin,
    adminToken,
    'POST',
    '/api/v1/connections',
    {
      id: RELAY_CONNECTION_ID,
      name: 'bench',
      base_url: upstreamOrigin,
      auth: { type: 'bearer', secret: UPSTREAM_SECRET },
      options: { allow_insecure_upstream: true },
    },
    10_000,
  );
  if (connection.status !== 201) {
    throw new Error(
      `POST /api/v1/connections answered ${connection.status}: ${connection.text.slice(0, 300)}`,
    );
  }
  const credential = await callApi(
    apiOrigin,
    adminToken,
    'POST',
    '/api/v1/credentials',
    policiesOn() ? await everyPolicy(apiOrigin, adminToken) : basicCredential(),
  );
  const token = field(credential.body, 'token');
  if (credential.status !== 201 || typeof token !== 'string') {
    throw new Error(
      `POST /api/v1/credentials answered ${credential.status}: ${credential.text.slice(0, 300)}`,
    );
  }
  return token;
}

/** The proxied form of the bench request: `/{connection}/{upstream path}`. */
export const RELAY_BENCH_PATH = `/${RELAY_CONNECTION_ID}${UPSTREAM_PATH}`;
