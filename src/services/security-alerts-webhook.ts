import type { LookupAddress, LookupOptions } from 'node:dns';
import { Agent, request } from 'undici';
import { randomBase62 } from '../core/base62.ts';
import { RelayError, unwrap } from '../core/errors.ts';
import { ipVersion } from '../core/ip.ts';
import { addressesAllowed, parseBaseUrl } from '../core/upstream-url.ts';
import { signWebhook, WEBHOOK_SIGNATURE_HEADER } from '../core/webhook-signature.ts';
import type { Resolver } from '../ports/resolver.ts';

export interface WebhookSenderOptions {
  /** RELAY_ALLOW_PRIVATE_UPSTREAMS: the same rule as for upstreams (no SSRF through Relay). */
  readonly allowPrivate: boolean;
  readonly resolver: Resolver;
  /** Whole delivery, connect to last byte. */
  readonly timeoutMs: number;
  readonly userAgent: string;
}

export const WEBHOOK_SECRET_PREFIX = 'whsec_';

/** A fresh signing secret: `whsec_` and 40 base62 characters (~238 bits). */
export function newWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX + randomBase62(40);
}

export class UnsafeWebhookError extends Error {
  readonly code = 'RELAY_UNSAFE_WEBHOOK';
  override name = 'UnsafeWebhookError';
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * Resolves through the Resolver port and refuses loopback, private and link-local
 * answers at connect time (SPEC §4 "Upstream safety", applied to webhooks): the
 * socket connects to exactly the address that was checked, so DNS rebinding
 * cannot slip a private address in after the URL was accepted.
 */
function checkedLookup(resolver: Resolver, allowPrivate: boolean) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    resolver.resolve(hostname).then(
      (addresses) => {
        if (addresses.length === 0) return callback(new Error(`${hostname} did not resolve`), []);
        if (!addressesAllowed(addresses, allowPrivate))
          return callback(new UnsafeWebhookError(`${hostname} resolves to a non-public address`), []);
        const list = addresses.map((address) => ({ address, family: ipVersion(address) === 6 ? 6 : 4 }));
        if (options.all) return callback(null, list);
        const first = list[0] as LookupAddress;
        return callback(null, first.address, first.family);
      },
      (error: unknown) => callback(error as NodeJS.ErrnoException, []),
    );
  };
}

/**
 * Delivers signed security webhooks. The URL obeys the connection base-URL rules
 * (`parseBaseUrl`): https only, except plain http where private upstreams are
 * allowed (local development); no credentials, query or fragment; no private,
 * loopback or link-local host unless allowed. Redirects are not followed
 * (undici's `request` follows none without the redirect interceptor).
 */
export class WebhookSender {
  readonly #options: WebhookSenderOptions;
  readonly #agent: Agent;

  constructor(options: WebhookSenderOptions) {
    this.#options = options;
    this.#agent = new Agent({
      connections: 8,
      keepAliveTimeout: 10_000,
      connect: { timeout: options.timeoutMs, lookup: checkedLookup(options.resolver, options.allowPrivate) },
    });
  }

  /** The normalised URL, or a RelayError (`invalid_base_url`, `unsafe_upstream`) explaining the refusal. */
  checkUrl(url: string): string {
    const policy = { allowPrivate: this.#options.allowPrivate, allowInsecure: this.#options.allowPrivate };
    const parsed = unwrap(parseBaseUrl(url, policy));
    return parsed.url;
  }

  /**
   * `checkUrl`, and, unless private addresses are allowed, a DNS check now (as for
   * connections): a name that resolves to a private address is refused at once; one
   * that does not resolve yet is accepted (the connect-time check still applies).
   */
  async check(url: string): Promise<string> {
    const normalised = this.checkUrl(url);
    if (!this.#options.allowPrivate) {
      const host = new URL(normalised).hostname.replace(/^\[|\]$/g, '');
      const addresses = await this.#options.resolver.resolve(host).catch(() => []);
      if (!addressesAllowed(addresses, false))
        throw new RelayError(
          'unsafe_upstream',
          `webhook host ${host} resolves to a private or loopback address`,
        );
    }
    return normalised;
  }

  /** POSTs `body`, signed; resolves with the status, rejects on a network error, refusal or timeout. */
  async send(url: string, secret: string, body: string, nowMs: number): Promise<number> {
    const target = new URL(this.checkUrl(url));
    const literal = target.hostname.replace(/^\[|\]$/g, '');
    // IP literals skip the lookup: check them here.
    if (ipVersion(literal) !== 0 && !addressesAllowed([literal], this.#options.allowPrivate))
      throw new UnsafeWebhookError(`${literal} is a non-public address`);
    const response = await request(target, {
      method: 'POST',
      dispatcher: this.#agent,
      headers: {
        'content-type': 'application/json',
        'user-agent': this.#options.userAgent,
        [WEBHOOK_SIGNATURE_HEADER]: signWebhook(secret, body, nowMs / 1000),
      },
      body,
      signal: AbortSignal.timeout(this.#options.timeoutMs),
    });
    // Nothing is read from the answer but its status.
    await response.body.dump({ limit: 64 * 1024 }).catch(() => {});
    return response.statusCode;
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}
