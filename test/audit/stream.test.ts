import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { writeAuditBatch } from '../../src/services/audit-batch.ts';
import { cli } from '../cli/cli-harness.ts';
import { DIALECTS, skipFor, startTestRelay } from '../harness.ts';
import { startFakeUpstream } from '../proxy/fake-upstream.ts';
import { fullGrant, secondWorkspace, send, startProxyFixture } from '../proxy/proxy-helpers.ts';
import { auditRecord } from './helpers.ts';

/** SPEC §7: a live tail, as server-sent events (GET /api/v1/audit/stream) and `relay audit tail`. */

interface SseMessage {
  readonly id?: string;
  readonly event?: string;
  readonly data?: string;
  readonly comment?: string;
}

/** Reads an SSE response message by message (WHATWG HTML §9.2.6, the parts this API uses). */
class SseReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #buffer = '';
  readonly #queue: SseMessage[] = [];
  ended = false;

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.getReader();
  }

  async next(timeoutMs = 5000): Promise<SseMessage> {
    const deadline = Date.now() + timeoutMs;
    while (this.#queue.length === 0) {
      assert.ok(!this.ended, 'the stream ended');
      const left = deadline - Date.now();
      assert.ok(left > 0, 'no event in time');
      let timer: NodeJS.Timeout | undefined;
      const chunk = await Promise.race([
        this.#reader.read(),
        new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), left);
        }),
      ]).finally(() => clearTimeout(timer));
      assert.notEqual(chunk, 'timeout', 'no event in time');
      if (chunk === 'timeout') break;
      if (chunk.done) this.ended = true;
      else this.#buffer += this.#decoder.decode(chunk.value, { stream: true });
      let end = this.#buffer.indexOf('\n\n');
      while (end !== -1) {
        this.#queue.push(...parse(this.#buffer.slice(0, end)));
        this.#buffer = this.#buffer.slice(end + 2);
        end = this.#buffer.indexOf('\n\n');
      }
    }
    return this.#queue.shift() as SseMessage;
  }

  /** The next `audit` event (comments and retry lines skipped). */
  async event(timeoutMs = 5000): Promise<{ id: number; record: Record<string, unknown> }> {
    for (;;) {
      const m = await this.next(timeoutMs);
      if (m.event === 'audit') return { id: Number(m.id), record: JSON.parse(m.data ?? '') };
    }
  }

  async rest(): Promise<SseMessage[]> {
    const out: SseMessage[] = [];
    while (!this.ended || this.#queue.length > 0) {
      try {
        out.push(await this.next());
      } catch {
        break;
      }
    }
    return out;
  }

  async cancel(): Promise<void> {
    await this.#reader.cancel();
  }
}

function parse(block: string): SseMessage[] {
  const lines = block.split('\n');
  if (lines.every((l) => l.startsWith(':') || l.startsWith('retry:')))
    return lines.filter((l) => l.startsWith(':')).map((l) => ({ comment: l.slice(1).trim() }));
  const m: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) m[line.slice(0, colon)] = line.slice(colon + 1).trimStart();
  }
  return [m];
}

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const upstream = await startFakeUpstream();
    const fx = await startProxyFixture(dialect, upstream);
    const { relay } = fx;
    const { store } = relay.running.relay;
    await fx.connection({
      id: 'conn_tail',
      name: 'tail',
      base_url: upstream.url,
      auth: { type: 'bearer', secret: 'sk-tail-0001' },
    });
    const credential = await fx.credential({ grants: [fullGrant('conn_tail')] });
    const other = await secondWorkspace(relay);
    const open = async (
      headers: Record<string, string> = { accept: 'text/event-stream' },
      query = '',
      token = relay.adminToken,
    ) => {
      const res = await fetch(`${relay.apiUrl}/api/v1/audit/stream${query}`, {
        headers: { authorization: `Bearer ${token}`, ...headers },
      });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
      return new SseReader(res.body as ReadableStream<Uint8Array>);
    };
    const head = async () => (await store.audit.chainState(relay.workspaceId)).head?.seq ?? 0;

    it('a follower receives a request proxied after it connected, opened, with its chain position as id', async () => {
      const viewer = await relay.api('POST', '/api/v1/tokens', { name: 'tail viewer', role: 'viewer' });
      const stream = await open(undefined, '', viewer.body.token);
      assert.deepEqual(await stream.next(), { comment: 'following' });
      const agent = `tail-test/${dialect}`;
      const res = await send(relay.proxyUrl, {
        path: '/conn_tail/v1/tailed?x=1',
        headers: { authorization: `Bearer ${credential.token}`, 'user-agent': agent },
      });
      assert.equal(res.status, 200);
      const { id, record } = await stream.event();
      assert.equal(id, await head());
      assert.equal(record.path, '/v1/tailed');
      assert.equal(record.user_agent, agent);
      assert.equal(record.credential_id, credential.id);
      assert.equal(record.ip, '127.0.0.1');
      await stream.cancel();
    });

    it("only the caller's workspace: another workspace's records are not sent", async () => {
      const stream = await open();
      await stream.next();
      const theirs = auditRecord({ workspaceId: other.workspaceId });
      const ours = auditRecord({ workspaceId: relay.workspaceId });
      await writeAuditBatch(store, [theirs]);
      await writeAuditBatch(store, [ours]);
      assert.equal((await stream.event()).record.id, ours.id);
      await stream.cancel();
    });

    it('resumes after Last-Event-ID (or after_seq) without missing a record', async () => {
      const batch = [
        auditRecord({ workspaceId: relay.workspaceId }),
        auditRecord({ workspaceId: relay.workspaceId }),
      ];
      const before = await head();
      await writeAuditBatch(store, batch);
      for (const stream of [
        await open({ accept: 'text/event-stream', 'last-event-id': String(before) }),
        await open(undefined, `?after_seq=${before}`),
      ]) {
        assert.deepEqual(
          [(await stream.event()).record.id, (await stream.event()).record.id],
          batch.map((r) => r.id),
        );
        await stream.cancel();
      }
    });

    it('without Accept: text/event-stream, the answer ends once it has caught up', async () => {
      const before = await head();
      const batch = [
        auditRecord({ workspaceId: relay.workspaceId }),
        auditRecord({ workspaceId: relay.workspaceId }),
      ];
      await writeAuditBatch(store, batch);
      const stream = await open({}, `?after_seq=${before}`);
      const messages = await stream.rest();
      assert.ok(stream.ended);
      assert.deepEqual(
        messages.filter((m) => m.event === 'audit').map((m) => [Number(m.id), JSON.parse(m.data ?? '').id]),
        [
          [before + 1, batch[0]?.id],
          [before + 2, batch[1]?.id],
        ],
      );
    });

    it('refuses a bad after_seq; needs a token', async () => {
      const bad = await relay.api('GET', '/api/v1/audit/stream?after_seq=-1');
      assert.equal(bad.status, 400);
      const anonymous = await fetch(`${relay.apiUrl}/api/v1/audit/stream`);
      assert.equal(anonymous.status, 401);
    });

    it('relay audit tail prints records as they are written', async () => {
      const env = {
        RELAY_DATA_DIR: relay.config.dataDir,
        RELAY_DATABASE_URL: relay.config.databaseUrl,
        RELAY_LOG_LEVEL: 'silent',
      };
      const after = await head();
      const tailing = cli(['audit', 'tail', '--json', '--count', '2', '--after-seq', String(after)], env);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const batch = [
        auditRecord({ workspaceId: relay.workspaceId }),
        auditRecord({ workspaceId: relay.workspaceId }),
      ];
      await writeAuditBatch(store, [batch[0] as (typeof batch)[number]]);
      await new Promise((resolve) => setTimeout(resolve, 600));
      await writeAuditBatch(store, [batch[1] as (typeof batch)[number]]);
      const result = await tailing;
      assert.equal(result.code, 0, result.stderr);
      const lines = result.stdout
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.deepEqual(
        lines.map((l) => [l.seq, l.id, l.path]),
        batch.map((r, i) => [after + i + 1, r.id, r.path]),
      );
      const text = await cli(['audit', 'tail', '--count', '1', '--after-seq', String(after)], env);
      assert.match(text.stdout, new RegExp(`^\\S+  ${after + 1}  allowed  200  GET  ${batch[0]?.path}  `));
    });
  });

  describe(`${dialect}: shutdown`, { skip: skipFor(dialect) }, async () => {
    it('a server closing ends its open streams rather than waiting for them', async () => {
      const relay = await startTestRelay(dialect);
      const res = await fetch(`${relay.apiUrl}/api/v1/audit/stream`, {
        headers: { authorization: `Bearer ${relay.adminToken}`, accept: 'text/event-stream' },
      });
      const stream = new SseReader(res.body as ReadableStream<Uint8Array>);
      await stream.next();
      const started = Date.now();
      await relay.running.close();
      assert.ok(Date.now() - started < 3000, `closing took ${Date.now() - started} ms`);
      await stream.rest();
      assert.ok(stream.ended);
    });
  });
}
