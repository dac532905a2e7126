import { lookup } from 'node:dns/promises';
import type { Resolver } from '../../ports/resolver.ts';

export const systemResolver: Resolver = {
  async resolve(hostname) {
    const results = await lookup(hostname, { all: true, verbatim: true });
    return results.map((r) => r.address);
  },
};
