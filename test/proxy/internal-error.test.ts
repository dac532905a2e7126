import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { issueToken } from '../../src/core/tokens.ts';
import { DIALECTS, skipFor, startTestRelay } from '../harness.ts';

describe('a failure inside Relay', () => {
  for (const dialect of DIALECTS) {
    describe(dialect, { skip: skipFor(dialect) }, async () => {
      const relay = await startTestRelay(dialect);
      const store = relay.running.relay.store;

      it('answers a recognisable 500 with the request id, and is audited exactly once', async () => {
        const repo = store.credentials as { findByHash: (hash: string) => Promise<unknown> };
        const original = repo.findByHash;
        repo.findByHash = async () => {
          throw new Error('simulated store failure');
        };
        let res: Response;
        try {
          res = await fetch(`${relay.proxyUrl}/conn_any/v1/x`, {
            headers: {
              authorization: `Bearer ${issueToken('proxy').token}`,
              'user-agent': 'internal-error-test',
            },
          });
        } finally {
          repo.findByHash = original;
        }
        assert.equal(res.status, 500);
        assert.equal(res.headers.get('relay-decision'), 'internal_error');
        const body = (await res.json()) as { request_id: string; detail: string };
        assert.match(body.request_id, /^req_/);
        assert.ok(!body.detail.includes('simulated'), 'a 5xx never echoes the internal message');
        let records: readonly { requestId: string; reason: string | null; decision: string }[] = [];
        for (let i = 0; i < 100; i++) {
          const page = await store.audit.list('', {}, { limit: 1000 });
          records = page.data.filter((r) => r.requestId === body.request_id);
          if (records.length > 0) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.equal(records.length, 1);
        assert.equal(records[0]?.reason, 'internal_error');
        assert.equal(records[0]?.decision, 'blocked');
      });
    });
  }
});
