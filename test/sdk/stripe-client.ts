import Stripe from 'stripe';

export interface WireExchange {
  readonly method: string;
  readonly path: string;
  readonly requestData: string;
  readonly status: number;
  readonly headers: Record<string, unknown>;
}

/**
 * stripe-node has no base-path option: its `host`, `port` and `protocol` settings
 * reach the origin only, and every resource path is built from a fixed `/v1/`.
 * Relay needs the connection id as the first path segment, so the supported
 * extension point is used instead: a custom `httpClient` (the documented
 * `HttpClient` interface) that wraps `Stripe.createNodeHttpClient()` and prefixes
 * each request path with `/{connection id}`. It also keeps a log of what went over
 * the wire, so the tests can compare the body the SDK sent with the one the
 * upstream received.
 */
export function pathPrefixingClient(prefix: string, wire: WireExchange[]): Stripe.HttpClient {
  const inner = Stripe.createNodeHttpClient();
  return {
    getClientName: () => inner.getClientName(),
    async makeRequest(host, port, path, method, headers, requestData, protocol, timeout) {
      const response = await inner.makeRequest(
        host,
        port,
        `${prefix}${path}`,
        method,
        headers,
        requestData,
        protocol,
        timeout,
      );
      wire.push({
        method,
        path: `${prefix}${path}`,
        requestData,
        status: response.getStatusCode(),
        headers: response.getHeaders(),
      });
      return response;
    },
  };
}
