import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { parseKeyList, parseLeakReport, verifyLeakReport } from '../../src/core/leak-report.ts';
import { signWebhook, verifyWebhookSignature } from '../../src/core/webhook-signature.ts';
import { WebhookSender } from '../../src/services/security-alerts-webhook.ts';

/** The pure halves of the leak-report and webhook protocols, and the webhook's connect-time SSRF check. */

const pem = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }) as string;

describe('webhook signatures (Relay-Signature)', () => {
  const secret = 'whsec_test';
  const body = '{"type":"security_event.raised"}';

  it('signs t and the body; a receiver verifies in constant time within the tolerance', () => {
    const header = signWebhook(secret, body, 1_700_000_000.9);
    assert.match(header, /^t=1700000000,v1=[0-9a-f]{64}$/);
    assert.ok(verifyWebhookSignature(secret, body, header, 1_700_000_100));
    assert.ok(!verifyWebhookSignature(secret, body, header, 1_700_000_301), 'too old: a replay');
    assert.ok(!verifyWebhookSignature(secret, `${body} `, header, 1_700_000_000));
    assert.ok(!verifyWebhookSignature('whsec_other', body, header, 1_700_000_000));
    const tampered = header.replace(/^t=\d+/, 't=1700000001');
    assert.ok(!verifyWebhookSignature(secret, body, tampered, 1_700_000_000), 'the timestamp is signed');
    assert.ok(!verifyWebhookSignature(secret, body, undefined, 1_700_000_000));
    assert.ok(!verifyWebhookSignature(secret, body, 'v1=abc', 1_700_000_000));
    const rotating = `${header},v1=${'0'.repeat(64)}`;
    assert.ok(verifyWebhookSignature(secret, body, rotating, 1_700_000_000), 'one matching v1 is enough');
  });
});

describe('leak-report keys and signatures (GitHub partner program)', () => {
  const good = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const list = (keys: Array<{ id: string; key: string }>) =>
    JSON.stringify({
      public_keys: keys.map((k) => ({ key_identifier: k.id, key: k.key, is_current: true })),
    });

  it('accepts ECDSA P-256 keys only', () => {
    assert.ok(parseKeyList(list([{ id: 'a', key: pem(good.publicKey) }])).ok);
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ed = generateKeyPairSync('ed25519');
    for (const key of [pem(p384.publicKey), pem(rsa.publicKey), pem(ed.publicKey), 'not a key']) {
      assert.equal(parseKeyList(list([{ id: 'a', key }])).ok, false);
    }
    assert.equal(parseKeyList('{"keys":[]}').ok, false);
    assert.equal(parseKeyList('nope').ok, false);
  });

  it('verifies the DER signature over the raw body with the named key', () => {
    const parsed = parseKeyList(list([{ id: 'a', key: pem(good.publicKey) }]));
    assert.ok(parsed.ok);
    const body = Buffer.from('[{"token":"x","type":"t"}]');
    const signature = sign('sha256', body, { key: good.privateKey, dsaEncoding: 'der' }).toString('base64');
    assert.ok(verifyLeakReport(parsed.value, 'a', signature, body));
    assert.ok(!verifyLeakReport(parsed.value, 'b', signature, body));
    assert.ok(!verifyLeakReport(parsed.value, 'a', signature, Buffer.from('[{"token":"y","type":"t"}]')));
    assert.ok(!verifyLeakReport(parsed.value, 'a', undefined, body));
    assert.ok(!verifyLeakReport(parsed.value, 'a', '%%%', body));
    const p1363 = sign('sha256', body, { key: good.privateKey, dsaEncoding: 'ieee-p1363' }).toString(
      'base64',
    );
    assert.ok(!verifyLeakReport(parsed.value, 'a', p1363, body), 'DER only, as the program sends');
  });

  it('parses the report array; url and source are optional', () => {
    const ok = parseLeakReport(
      Buffer.from('[{"token":"a","type":"t","url":"u","source":"content"},{"token":"b","type":"t"}]'),
    );
    assert.ok(ok.ok);
    assert.deepEqual(ok.value[1], { token: 'b', type: 't', url: '', source: '' });
    for (const bad of ['{}', '[{"token":1,"type":"t"}]', '[{"token":"","type":"t"}]', '[null]', 'x']) {
      assert.equal(parseLeakReport(Buffer.from(bad)).ok, false, bad);
    }
  });
});

describe('webhook delivery refuses private addresses at connect time', async () => {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as AddressInfo).port;
  /** hooks.example resolves to loopback: the DNS-rebinding case. */
  const resolver = { resolve: async () => ['127.0.0.1'] };

  it('a name that resolves to loopback is never connected to, unless private addresses are allowed', async () => {
    const strict = new WebhookSender({ allowPrivate: false, resolver, timeoutMs: 2000, userAgent: 'test' });
    after(() => strict.close());
    await assert.rejects(
      strict.send(`https://hooks.example:${port}/x`, 'whsec_x', '{}', Date.now()),
      (error: Error & { code?: string; cause?: { code?: string } }) =>
        [error.code, error.cause?.code].includes('RELAY_UNSAFE_WEBHOOK') || /non-public/.test(error.message),
    );
    await assert.rejects(strict.send(`https://127.0.0.1:${port}/x`, 'whsec_x', '{}', Date.now()));
    assert.equal(hits, 0);
    const lax = new WebhookSender({ allowPrivate: true, resolver, timeoutMs: 2000, userAgent: 'test' });
    after(() => lax.close());
    assert.equal(await lax.send(`http://hooks.example:${port}/x`, 'whsec_x', '{}', Date.now()), 200);
    assert.equal(hits, 1);
  });
});
