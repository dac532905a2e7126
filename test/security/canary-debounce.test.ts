import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryRateLimiter } from '../../src/adapters/memory/memory-rate-limiter.ts';
import type { Credential } from '../../src/core/model.ts';
import { createLogger } from '../../src/logger.ts';
import type { RateLimiter } from '../../src/ports/rate-limiter.ts';
import { CanaryTrap, type CredentialUse } from '../../src/services/security-alerts-canary.ts';
import type { RaiseInput } from '../../src/services/security-events.ts';

/**
 * The canary debounce, both layers: one event per canary per minute on a node
 * (a local map, so a flood costs no shared-state round trip), and across nodes
 * (a one-strike hold in the shared limiter, Redis in a cluster). A limiter that
 * fails does not silence the alarm.
 */
const silent = createLogger('silent');
const canary = (id: string): Credential =>
  ({ workspaceId: 'ws_1', id, name: id, policies: { canary: true } }) as unknown as Credential;
const use: CredentialUse = {
  ip: '203.0.113.5',
  userAgent: 'curl/8',
  method: 'GET',
  path: '/v1/x',
  connectionId: 'conn_x',
  requestId: 'req_1',
};

function node(limiter: RateLimiter, clock: { now(): number }, events: RaiseInput[]) {
  return new CanaryTrap({
    limiter,
    clock,
    logger: silent,
    raise: async (e) => {
      events.push(e);
    },
  });
}

describe('canary debounce', () => {
  it('one node: a flood within a minute is one event; the next minute another', async () => {
    const clock = {
      t: 1_000_000,
      now() {
        return this.t;
      },
    };
    const events: RaiseInput[] = [];
    // A limiter that never holds anything: only the local layer debounces.
    const forgetful: RateLimiter = {
      take: () => ({ allowed: true, remaining: 1, resetSeconds: 0, retryAfterSeconds: 0 }) as never,
      strike: async () => ({ heldUntil: null, started: true }),
      onHold: () => () => {},
      holds: async () => [],
      close: async () => {},
    };
    const trap = node(forgetful, clock, events);
    for (let i = 0; i < 50; i++) assert.equal(trap.hook(canary('cred_a'), use), true);
    await trap.drain();
    assert.equal(events.length, 1);
    clock.t += 61_000;
    trap.hook(canary('cred_a'), use);
    trap.hook(canary('cred_b'), use);
    await trap.drain();
    assert.equal(events.length, 3, 'a minute later, and another canary, each raise again');
    assert.equal(events[0]?.severity, 'critical');
    assert.equal(events[0]?.kind, 'canary_used');
  });

  it('several nodes sharing the limiter: one event per canary per minute in all', async () => {
    const clock = { now: () => 5_000_000 };
    const events: RaiseInput[] = [];
    const shared = new MemoryRateLimiter();
    const nodes = [node(shared, clock, events), node(shared, clock, events), node(shared, clock, events)];
    for (const trap of nodes) for (let i = 0; i < 5; i++) trap.hook(canary('cred_c'), use);
    await Promise.all(nodes.map((n) => n.drain()));
    assert.equal(events.length, 1);
  });

  it('a failing limiter raises the event anyway; an ordinary credential is never caught', async () => {
    const events: RaiseInput[] = [];
    const broken: RateLimiter = {
      take: () => ({ allowed: true }) as never,
      strike: async () => {
        throw new Error('redis down');
      },
      onHold: () => () => {},
      holds: async () => {
        throw new Error('redis down');
      },
      close: async () => {},
    };
    const trap = node(broken, { now: () => 1 }, events);
    assert.equal(trap.hook(canary('cred_d'), use), true);
    const plain = { ...canary('cred_e'), policies: {} } as Credential;
    assert.equal(trap.hook(plain, use), false);
    await trap.drain();
    assert.equal(events.length, 1);
  });
});
