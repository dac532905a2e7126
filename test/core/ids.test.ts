import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { looksLikeId, newId, newTimeOrderedId } from '../../src/core/ids.ts';

describe('ids', () => {
  it('random ids are a prefix and 20 base62 characters', () => {
    const id = newId('credential');
    assert.match(id, /^cred_[0-9A-Za-z]{20}$/);
    assert.ok(looksLikeId(id));
  });

  it('time-ordered ids have the same shape', () => {
    const id = newTimeOrderedId('auditEvent', Date.parse('2026-11-23T03:00:00Z'));
    assert.match(id, /^evt_[0-9A-Za-z]{20}$/);
    assert.ok(looksLikeId(id));
  });

  it('time-ordered ids sort by time, whatever their random part', () => {
    const start = Date.parse('2026-01-01T00:00:00Z');
    const times = [0, 1, 61, 62, 3_843, 3_844, 86_400_000, 31_536_000_000].map((d) => start + d);
    const ids = times.map((t) => newTimeOrderedId('auditEvent', t));
    assert.deepEqual([...ids].sort(), ids);
    // Binary collation (SQLite's default, PostgreSQL's "C") compares bytes: the same order.
    const bytes = [...ids].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    assert.deepEqual(bytes, ids);
  });

  it('time-ordered ids of the same millisecond differ', () => {
    const now = Date.now();
    const ids = new Set(Array.from({ length: 10_000 }, () => newTimeOrderedId('auditEvent', now)));
    assert.equal(ids.size, 10_000);
  });
});
