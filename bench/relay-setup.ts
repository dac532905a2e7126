import { UPSTREAM_PATH, UPSTREAM_SECRET } from './protocol.ts';
import { callApi, callApiWhenUp, field } from './relay-api.ts';

export const RELAY_CONNECTION_ID = 'conn_bench';

/**
 * Through the management API (SPEC §13): a connection to the fake upstream with
 * its real key, and a credential allowed exactly the bench request, so that
 * every request passes every check and is forwarded. Returns the proxy token.
 */
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
  const credential = await callApi(apiOrigin, adminToken, 'POST', '/api/v1/credentials', {
    name: 'bench',
    grants: [{ connection_id: RELAY_CONNECTION_ID, allowed_methods: ['GET'], allowed_paths: ['/v1/**'] }],
    ip_mode: 'none',
    acknowledge_risks: true,
  });
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
