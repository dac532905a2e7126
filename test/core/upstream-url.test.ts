import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressesAllowed, parseBaseUrl, type UpstreamPolicy } from '../../src/core/upstream-url.ts';

const STRICT: UpstreamPolicy = { allowPrivate: false, allowInsecure: false };
const INSECURE: UpstreamPolicy = { allowPrivate: false, allowInsecure: true };
const PRIVATE: UpstreamPolicy = { allowPrivate: true, allowInsecure: false };
const LOCAL_DEV: UpstreamPolicy = { allowPrivate: true, allowInsecure: true };

describe('parseBaseUrl accepts', () => {
  const table: ReadonlyArray<readonly [string, UpstreamPolicy, string, string]> = [
    ['https://api.example.com', STRICT, 'https://api.example.com', 'api.example.com'],
    ['https://api.example.com/', STRICT, 'https://api.example.com', 'api.example.com'],
    ['https://api.example.com/v1/', STRICT, 'https://api.example.com/v1', 'api.example.com'],
    ['https://API.Example.com:8443/v1', STRICT, 'https://api.example.com:8443/v1', 'api.example.com'],
    ['http://api.example.com', INSECURE, 'http://api.example.com', 'api.example.com'],
    ['https://127.0.0.1:9000/x', PRIVATE, 'https://127.0.0.1:9000/x', '127.0.0.1'],
    ['http://localhost:3000', LOCAL_DEV, 'http://localhost:3000', 'localhost'],
    ['https://[::1]:8443', PRIVATE, 'https://[::1]:8443', '::1'],
    ['https://93.184.216.34', STRICT, 'https://93.184.216.34', '93.184.216.34'],
  ];
  for (const [input, policy, url, hostname] of table) {
    it(`${input} (${JSON.stringify(policy)}) -> ${url}`, () => {
      const result = parseBaseUrl(input, policy);
      assert.ok(result.ok, JSON.stringify(result));
      assert.equal(result.value.url, url);
      assert.equal(result.value.hostname, hostname);
    });
  }
});

describe('parseBaseUrl refuses', () => {
  const table: ReadonlyArray<readonly [string, UpstreamPolicy, 'invalid_base_url' | 'unsafe_upstream']> = [
    ['not a url', STRICT, 'invalid_base_url'],
    ['api.example.com', STRICT, 'invalid_base_url'],
    ['ftp://api.example.com', STRICT, 'invalid_base_url'],
    ['file:///etc/passwd', LOCAL_DEV, 'invalid_base_url'],
    ['http://api.example.com', STRICT, 'invalid_base_url'],
    ['http://api.example.com', PRIVATE, 'invalid_base_url'],
    ['https://user:pass@api.example.com', STRICT, 'invalid_base_url'],
    ['https://user@api.example.com', STRICT, 'invalid_base_url'],
    ['https://api.example.com/?a=1', STRICT, 'invalid_base_url'],
    ['https://api.example.com/?', STRICT, 'invalid_base_url'],
    ['https://api.example.com/#x', STRICT, 'invalid_base_url'],
    ['https://127.0.0.1', STRICT, 'unsafe_upstream'],
    ['https://10.1.2.3', STRICT, 'unsafe_upstream'],
    ['https://172.16.5.4', STRICT, 'unsafe_upstream'],
    ['https://192.168.1.1', STRICT, 'unsafe_upstream'],
    ['https://169.254.169.254/latest/meta-data', STRICT, 'unsafe_upstream'],
    ['https://0.0.0.0', STRICT, 'unsafe_upstream'],
    ['https://[::1]', STRICT, 'unsafe_upstream'],
    ['https://[::]', STRICT, 'unsafe_upstream'],
    ['https://[fe80::1]', STRICT, 'unsafe_upstream'],
    ['https://[fd00::1]', STRICT, 'unsafe_upstream'],
    ['https://[::ffff:127.0.0.1]', STRICT, 'unsafe_upstream'],
    ['https://[::ffff:a9fe:a9fe]', STRICT, 'unsafe_upstream'],
    // WHATWG URL parsing turns these spellings into 127.0.0.1 before the check
    ['https://2130706433', STRICT, 'unsafe_upstream'],
    ['https://0x7f.0.0.1', STRICT, 'unsafe_upstream'],
    ['https://127.1', STRICT, 'unsafe_upstream'],
    ['https://0177.0.0.1', STRICT, 'unsafe_upstream'],
    ['https://localhost', STRICT, 'unsafe_upstream'],
    ['https://LOCALHOST:8443', STRICT, 'unsafe_upstream'],
    // a fully-qualified name with its root dot is the same name
    ['https://localhost.', STRICT, 'unsafe_upstream'],
    ['https://api.localhost', STRICT, 'unsafe_upstream'],
    ['https://metadata.internal', STRICT, 'unsafe_upstream'],
    ['https://printer.local', STRICT, 'unsafe_upstream'],
    ['https://box.localdomain', STRICT, 'unsafe_upstream'],
    ['https://intranet', STRICT, 'unsafe_upstream'],
  ];
  for (const [input, policy, code] of table) {
    it(`${input} (${JSON.stringify(policy)}) -> ${code}`, () => {
      const result = parseBaseUrl(input, policy);
      assert.equal(result.ok, false, `${input} should be refused`);
      if (!result.ok) {
        assert.equal(result.error.code, code);
        assert.ok(result.error.detail && result.error.detail.length > 0);
      }
    });
  }

  it('the http refusal says how to allow it', () => {
    const result = parseBaseUrl('http://api.example.com', STRICT);
    assert.ok(!result.ok);
    assert.match(result.error.detail ?? '', /allow_insecure_upstream/);
  });
});

describe('addressesAllowed', () => {
  const table: ReadonlyArray<readonly [readonly string[], boolean, boolean]> = [
    [['93.184.216.34'], false, true],
    [['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'], false, true],
    [['93.184.216.34', '10.0.0.1'], false, false],
    [['127.0.0.1'], false, false],
    [['::1'], false, false],
    [['::ffff:192.168.0.1'], false, false],
    [['not-an-ip'], false, false],
    [['127.0.0.1', '10.0.0.1'], true, true],
    // no addresses (a name that does not resolve yet): accepted, checked again at connect time
    [[], false, true],
  ];
  for (const [addresses, allowPrivate, expected] of table) {
    it(`${JSON.stringify(addresses)} allowPrivate=${allowPrivate} -> ${expected}`, () =>
      assert.equal(addressesAllowed(addresses, allowPrivate), expected));
  }
});
