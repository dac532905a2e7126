import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { addressesAllowed } from '../../core/upstream-url.ts';

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

export class UnsafeUpstreamError extends Error {
  readonly code = 'RELAY_UNSAFE_UPSTREAM';
  override name = 'UnsafeUpstreamError';
}

/**
 * A `lookup` for upstream sockets that refuses loopback, private and link-local
 * results at connect time (SPEC §4): the check that matters against DNS
 * rebinding, since the name is resolved here, once, for the very socket used.
 */
export function safeLookup(allowPrivate: boolean) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const list = addresses as LookupAddress[];
      if (
        !addressesAllowed(
          list.map((a) => a.address),
          allowPrivate,
        )
      ) {
        return callback(new UnsafeUpstreamError(`${hostname} resolves to a non-public address`), []);
      }
      if (options.all) return callback(null, list);
      const first = list[0] as LookupAddress;
      return callback(null, first.address, first.family);
    });
  };
}
