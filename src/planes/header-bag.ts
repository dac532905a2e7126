/**
 * Request header fields by lowercased name, as both listeners read them: node:http's
 * `IncomingHttpHeaders` (management API) and the proxy's own parse (proxy/http1).
 */
export type HeaderBag = Record<string, string | string[] | undefined>;
