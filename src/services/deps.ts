import type { Clock } from '../core/clock.ts';
import type { Vault } from '../core/vault.ts';
import type { Bus } from '../ports/bus.ts';
import type { Resolver } from '../ports/resolver.ts';
import type { Store } from '../ports/store.ts';

/** What the application services need; built once in `app.ts` and passed to each. */
export interface ServiceDeps {
  readonly store: Store;
  readonly vault: Vault;
  readonly clock: Clock;
  readonly bus: Bus;
  readonly resolver: Resolver;
  readonly allowPrivateUpstreams: boolean;
}
