import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AuditBatchEncodingError,
  decodeAuditBatch,
  encodeAuditBatch,
} from '../../src/core/audit-batch-encoding.ts';
import { auditRecord } from './helpers.ts';

/** The proxy-to-writer handoff of audit batches (core/audit-batch-encoding.ts). */
describe('audit batch encoding', () => {
  it('a batch comes back exactly: every field, nulls, fractions and any text', () => {
    const batch = [
      auditRecord(),
      auditRecord({
        workspaceId: '',
        connectionId: null,
        credentialId: null,
        recipientId: null,
        query: 'q=caf\u00e9&x=\u{1f600}',
        reason: 'unauthenticated',
        decision: 'blocked',
        status: 401,
        durationMs: 0.1 + 0.2,
        upstreamMs: null,
        userAgent: 'agent "quoted" \\ \n',
      }),
    ];
    assert.deepEqual(decodeAuditBatch(encodeAuditBatch(batch)), batch);
    assert.deepEqual(decodeAuditBatch(encodeAuditBatch([])), []);
  });

  it('refuses anything that is not an encoded batch', () => {
    for (const text of ['{}', '[[1,2]]', '[{"id":"x"}]']) {
      assert.throws(() => decodeAuditBatch(text), AuditBatchEncodingError, text);
    }
    assert.throws(() => decodeAuditBatch('not json'), SyntaxError);
  });
});
