import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AuditBatchEncodingError,
  decodeAuditBatch,
  encodeAuditRecord,
  encodedAuditRecord,
  joinAuditBatch,
} from '../../src/core/audit-batch-encoding.ts';
import { canonicalEncoding } from '../../src/core/audit-chain.ts';
import { auditRecord } from './helpers.ts';

/** The proxy-to-writer handoff of audit records (core/audit-batch-encoding.ts). */
describe('audit batch encoding', () => {
  const tricky = auditRecord({
    workspaceId: '',
    connectionId: null,
    credentialId: null,
    recipientId: null,
    path: '/v1/a\tb',
    query: 'q=caf\u00e9&x=\u{1f600}',
    reason: 'unauthenticated',
    decision: 'blocked',
    status: 401,
    durationMs: 0.1 + 0.2,
    upstreamMs: null,
    userAgent: 'agent "quoted" \\ \n\t tab',
  });

  it('a batch comes back as the writer takes it, whatever text the records hold', () => {
    const batch = [auditRecord(), tricky, auditRecord({ credentialId: 'cred_x', recipientId: 'rcp_y' })];
    assert.deepEqual(
      decodeAuditBatch(joinAuditBatch(batch.map(encodeAuditRecord))),
      batch.map(encodedAuditRecord),
    );
    assert.deepEqual(decodeAuditBatch(joinAuditBatch([])), []);
  });

  it("the sensitive fields are the record's, and the stored fields are the middle of its canonical encoding", () => {
    const [decoded] = decodeAuditBatch(encodeAuditRecord(tricky));
    assert.deepEqual(JSON.parse(decoded?.sensitive ?? ''), [
      tricky.id,
      tricky.path,
      tricky.query,
      tricky.ip,
      tricky.userAgent,
    ]);
    const stored = {
      ...tricky,
      path: '',
      query: null,
      ip: '',
      userAgent: null,
      keyId: 'k',
      sealed: 's',
      prevHash: 'p',
    };
    const canonical = canonicalEncoding(stored);
    const prefix = JSON.stringify(['relay.audit.v1', tricky.workspaceId]).slice(0, -1);
    assert.equal(canonical, `${prefix},${decoded?.fields},"k","s","p"]`);
  });

  it('refuses a line that is not an encoded record', () => {
    for (const text of [
      'a\tb',
      'x\tx\tx\tx\tx\tx\tx\tnot-a-number\t"f"\t[]',
      'x\tx\tx\tx\tx\tx\tx\t200\t["f"]\t[]',
      // An eleventh field, and a line short of fields that the next line's tabs would complete.
      'x\tx\tx\tx\tx\tx\tx\t200\t"f"\t[]\textra',
      'x\tx\tx\tx\tx\n\tx\tx\t200\t"f"\t[]',
      `${encodeAuditRecord(auditRecord())}\n`,
      `x\tx\n${encodeAuditRecord(auditRecord())}`,
    ]) {
      assert.throws(() => decodeAuditBatch(text), AuditBatchEncodingError, text);
    }
    assert.throws(
      () => decodeAuditBatch('x\tx\tx\tx\tx\n\tx\tx\t200\t"f"\t[]'),
      /has 10 fields/,
      "a line's fields end at its newline",
    );
  });
});
