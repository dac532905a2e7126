import type { ChildProcess } from 'node:child_process';
import type { AuditCount } from './audit-count.ts';
import type { TargetName } from './config.ts';
import { forkBenchChild, nextMessage, stopChild } from './ipc.ts';
import type { Endpoint } from './measure-target.ts';
import { type ProxyEvent, UPSTREAM_AUTHORIZATION, UPSTREAM_PATH } from './protocol.ts';
import { startRelay } from './relay-under-test.ts';

const READY_TIMEOUT_MS = 15_000;

/** A target ready for load: where to send it and which process tree is the proxy. */
export interface RunningTarget {
  readonly endpoint: Endpoint;
  readonly proxy: ChildProcess | null;
  /** Relay only: counts the audit entries of the bench connection. */
  readonly countAudit?: (expected: number) => Promise<AuditCount>;
  /** Resolves true if the process had to be killed. */
  stop(): Promise<boolean>;
}

/** Started, or the reason it could not be (only Relay may be missing). */
export type TargetStart =
  | { readonly ok: true; readonly target: RunningTarget }
  | { readonly ok: false; readonly reason: string };

/** The upstream's own key, sent by the load generator where no proxy swaps it in. */
const upstreamHeaders = { authorization: UPSTREAM_AUTHORIZATION };

async function startMinimal(upstreamOrigin: string): Promise<TargetStart> {
  const proxy = forkBenchChild('./minimal-proxy.ts', [upstreamOrigin]);
  try {
    const { port } = await nextMessage<ProxyEvent, 'ready'>(proxy, 'ready', READY_TIMEOUT_MS);
    const endpoint = { origin: `http://127.0.0.1:${port}`, path: UPSTREAM_PATH, headers: upstreamHeaders };
    return { ok: true, target: { endpoint, proxy, stop: () => stopChild(proxy) } };
  } catch (error) {
    await stopChild(proxy);
    throw error;
  }
}

async function startRelayTarget(
  repoRoot: string,
  upstreamOrigin: string,
  settings: Readonly<Record<string, string>>,
  nodeArgs: readonly string[],
): Promise<TargetStart> {
  const start = await startRelay(repoRoot, upstreamOrigin, settings, nodeArgs);
  if (!start.ok) return start;
  const { relay } = start;
  return {
    ok: true,
    target: {
      endpoint: relay.endpoint,
      proxy: relay.process,
      countAudit: relay.countAudit,
      stop: relay.stop,
    },
  };
}

export function startTarget(
  name: TargetName,
  repoRoot: string,
  upstreamOrigin: string,
  relaySettings: Readonly<Record<string, string>> = {},
  relayNodeArgs: readonly string[] = [],
): Promise<TargetStart> {
  switch (name) {
    case 'direct': {
      const endpoint = { origin: upstreamOrigin, path: UPSTREAM_PATH, headers: upstreamHeaders };
      return Promise.resolve({ ok: true, target: { endpoint, proxy: null, stop: async () => false } });
    }
    case 'minimal':
      return startMinimal(upstreamOrigin);
    case 'relay':
      return startRelayTarget(repoRoot, upstreamOrigin, relaySettings, relayNodeArgs);
  }
}
