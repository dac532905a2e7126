import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SECRET_RULES } from '../../src/core/secret-scan/rules.ts';
import { scanText } from '../../src/core/secret-scan/scan-text.ts';
import type { Finding } from '../../src/core/secret-scan/types.ts';
import {
  embed,
  FALSE_POSITIVES,
  githubToken,
  jwt,
  pem,
  relayToken,
  TRUE_POSITIVES,
  withLuhn,
} from './corpus.ts';

function expected(text: string, rule: string, secret: string): Finding {
  const start = text.indexOf(secret);
  assert.ok(start >= 0, `${secret} is in ${text}`);
  return { rule, start, end: start + secret.length };
}

describe('true positives: each is found exactly, with its rule and range', () => {
  for (const positive of TRUE_POSITIVES) {
    it(`${positive.rule}: ${positive.label}`, () => {
      const text = embed(positive);
      assert.deepEqual(scanText(text, { mode: 'warn' }).findings, [
        expected(text, positive.rule, positive.secret),
      ]);
    });
  }
});

describe('false positives: look-alikes are not reported', () => {
  for (const negative of FALSE_POSITIVES) {
    it(negative.label, () => assert.deepEqual(scanText(negative.text, { mode: 'warn' }).findings, []));
  }
});

describe('every rule is load-bearing', () => {
  it('the corpus has true positives for exactly the rules there are', () => {
    assert.deepEqual(
      [...new Set(TRUE_POSITIVES.map((p) => p.rule))].sort(),
      SECRET_RULES.map((r) => r.id).sort(),
    );
  });

  for (const rule of SECRET_RULES) {
    it(`without ${rule.id}, its true positives go undetected (no other rule covers for it)`, () => {
      const others = SECRET_RULES.filter((r) => r !== rule);
      for (const positive of TRUE_POSITIVES.filter((p) => p.rule === rule.id)) {
        const text = embed(positive);
        const found = scanText(text, { mode: 'warn', rules: others }).findings;
        assert.notDeepEqual(found, [expected(text, positive.rule, positive.secret)], positive.label);
      }
    });
  }

  it('rule ids are unique and every rule has a name and a severity', () => {
    assert.equal(new Set(SECRET_RULES.map((r) => r.id)).size, SECRET_RULES.length);
    for (const rule of SECRET_RULES) {
      assert.match(rule.id, /^[a-z0-9]+(?:-[a-z0-9]+)*$/);
      assert.ok(rule.name.length > 0);
      assert.ok(['low', 'medium', 'high', 'critical'].includes(rule.severity));
    }
  });
});

describe('several secrets in one payload', () => {
  const token = relayToken('rk_' + 'proxy_', 200);
  const gh = githubToken('p', 201);
  const card = withLuhn('453201511283036');
  const payload = JSON.stringify({
    user: { email: 'a.b@example.org', ssn: '536-22-1940' },
    headers: { authorization: `Bearer ${gh}`, 'x-relay': token },
    card,
    note: 'no secrets here: 4111111111111112, 000-12-3456',
  });

  it('are reported in text order, each by its most specific rule', () => {
    assert.deepEqual(scanText(payload, { mode: 'warn' }).findings, [
      expected(payload, 'email', 'a.b@example.org'),
      expected(payload, 'us-ssn', '536-22-1940'),
      expected(payload, 'github-token', gh),
      expected(payload, 'relay-token', token),
      expected(payload, 'credit-card', card),
    ]);
  });

  it('a JWT after Bearer is reported once, as a JWT', () => {
    const token = jwt({ alg: 'ES256' }, { sub: 'x' }, 202, 86);
    const text = `Authorization: Bearer ${token}`;
    assert.deepEqual(scanText(text, { mode: 'warn' }).findings, [expected(text, 'jwt', token)]);
  });

  it('a Relay look-alike after Bearer is still a bearer token', () => {
    const bad = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    const text = `Authorization: Bearer ${bad}`;
    assert.deepEqual(scanText(text, { mode: 'warn' }).findings, [expected(text, 'bearer-token', bad)]);
  });
});

describe('cost stays linear on hostile input', () => {
  // Each BEGIN line used to search 8 KiB ahead for an END line: 8 MB took seconds.
  it('8 MB of PEM BEGIN lines with no END scans in well under the time it once took', () => {
    const text = '-----BEGIN PRIVATE KEY-----"'.repeat(300_000);
    const started = performance.now();
    const found = scanText(text, { mode: 'warn' }).findings.length;
    assert.equal(found, 300_000);
    assert.ok(performance.now() - started < 2500, `${Math.round(performance.now() - started)} ms`);
  });
});

describe('documented limits', () => {
  it('a PEM block larger than the 8 KiB cap is covered from its BEGIN line for 8 KiB', () => {
    const big = pem('RSA ', 300, 140); // ~9 KiB of body
    const found = scanText(big, { mode: 'warn' }).findings;
    assert.equal(found.length, 1);
    assert.equal(found[0]?.rule, 'pem-private-key');
    assert.equal(found[0]?.start, 0);
    assert.ok((found[0]?.end ?? 0) > 8192);
  });

  it('a JWT beyond the part caps is not reported', () => {
    const huge = jwt({ alg: 'HS256' }, { blob: 'x'.repeat(5000) }, 301, 43);
    assert.deepEqual(scanText(huge, { mode: 'warn' }).findings, []);
  });

  it('a bearer token longer than 4 KiB is redacted for its first 4 KiB', () => {
    const text = `Bearer ${'A'.repeat(5000)}`;
    assert.equal(scanText(text, { mode: 'redact' }).redacted, `Bearer [REDACTED]${'A'.repeat(5000 - 4096)}`);
  });
});
