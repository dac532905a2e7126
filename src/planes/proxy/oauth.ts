import { Agent, request } from 'undici';
import { safeLookup } from './safe-lookup.ts';

export interface OAuthSourceOptions {
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly scope: string | undefined;
  readonly allowPrivate: boolean;
  readonly timeoutMs: number;
  readonly now?: () => number;
}

/** Refresh this long before the token's stated expiry, so no request carries a token about to lapse. */
const REFRESH_MARGIN_MS = 60_000;

export class OAuthError extends Error {
  override name = 'OAuthError';
}

/**
 * OAuth 2.0 client credentials grant (RFC 6749 §4.4): fetches an access token,
 * caches it until shortly before it expires, and shares one fetch among
 * concurrent callers. The client authenticates with HTTP Basic (RFC 6749 §2.3.1).
 */
export class OAuthTokenSource {
  readonly #options: OAuthSourceOptions;
  readonly #dispatcher: Agent;
  #token: { value: string; refreshAt: number } | undefined;
  #inFlight: Promise<string> | undefined;

  constructor(options: OAuthSourceOptions) {
    this.#options = options;
    this.#dispatcher = new Agent({ connect: { lookup: safeLookup(options.allowPrivate) } });
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }

  token(): Promise<string> {
    if (this.#token && this.#now() < this.#token.refreshAt) return Promise.resolve(this.#token.value);
    this.#inFlight ??= this.#fetch().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #fetch(): Promise<string> {
    const { clientId, clientSecret, scope, tokenUrl, timeoutMs } = this.#options;
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (scope) form.set('scope', scope);
    const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString(
      'base64',
    );
    const response = await request(tokenUrl, {
      method: 'POST',
      dispatcher: this.#dispatcher,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        authorization: `Basic ${basic}`,
      },
      body: form.toString(),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) throw new OAuthError(`token endpoint answered ${response.statusCode}`);
    let body: { access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new OAuthError('token endpoint answered with invalid JSON');
    }
    if (typeof body.access_token !== 'string' || body.access_token === '')
      throw new OAuthError('token endpoint gave no access_token');
    const lifetimeMs =
      typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in * 1000 : 3600_000;
    this.#token = {
      value: body.access_token,
      refreshAt: this.#now() + Math.max(lifetimeMs - REFRESH_MARGIN_MS, lifetimeMs / 2),
    };
    return body.access_token;
  }
}
