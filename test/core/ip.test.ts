import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Cidr, cidrContains, isNonPublicIp, isV4Mapped, parseCidr, parseIp } from '../../src/core/ip.ts';

const ip = (text: string) => {
  const bytes = parseIp(text);
  assert.ok(bytes, `${text} should parse`);
  return bytes;
};
const cidr = (text: string): Cidr => {
  const parsed = parseCidr(text);
  assert.ok(parsed, `${text} should parse as a CIDR`);
  return parsed;
};

describe('parseIp', () => {
  it('IPv4 becomes the IPv4-mapped IPv6 form, equal to the written-out mapped address', () => {
    assert.deepEqual([...ip('192.0.2.7')], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7]);
    assert.deepEqual(ip('192.0.2.7'), ip('::ffff:192.0.2.7'));
    assert.deepEqual(ip('192.0.2.7'), ip('::ffff:c000:207'));
    assert.ok(isV4Mapped(ip('10.0.0.1')));
    assert.equal(isV4Mapped(ip('2001:db8::1')), false);
  });

  for (const [text, expected] of [
    ['::1', [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]],
    ['::', new Array(16).fill(0)],
    ['2001:db8::8:800:200c:417a', [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 8, 8, 0, 0x20, 0x0c, 0x41, 0x7a]],
    ['fe80::1', [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]],
    ['1:2:3:4:5:6:7:8', [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]],
  ] as const) {
    it(`parses ${text}`, () => assert.deepEqual([...ip(text)], [...expected]));
  }

  for (const text of [
    '',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    'a.b.c.d',
    '1::2::3',
    'fe80::1%eth0',
    'localhost',
  ]) {
    it(`refuses ${JSON.stringify(text)}`, () => assert.equal(parseIp(text), undefined));
  }
});

describe('parseCidr', () => {
  for (const [text, bits] of [
    ['10.0.0.0/8', 104],
    ['0.0.0.0/0', 96],
    ['192.0.2.1', 128],
    ['2001:db8::/32', 32],
    ['::/0', 0],
    ['::1', 128],
  ] as const) {
    it(`${text} covers /${bits} of the 128-bit form`, () => assert.equal(cidr(text).bits, bits));
  }

  for (const text of [
    '10.0.0.0/33',
    '2001:db8::/129',
    '10.0.0.0/',
    '10.0.0.0/-1',
    '10.0.0.0/8/8',
    'x/8',
    '/8',
    '10.0.0.0/1a',
  ]) {
    it(`refuses ${JSON.stringify(text)}`, () => assert.equal(parseCidr(text), undefined));
  }
});

describe('cidrContains', () => {
  const table: ReadonlyArray<readonly [string, string, boolean]> = [
    ['10.0.0.0/8', '10.0.0.0', true],
    ['10.0.0.0/8', '10.255.255.255', true],
    ['10.0.0.0/8', '11.0.0.0', false],
    ['10.0.0.0/9', '10.127.255.255', true],
    ['10.0.0.0/9', '10.128.0.0', false],
    ['172.16.0.0/12', '172.31.255.255', true],
    ['172.16.0.0/12', '172.32.0.0', false],
    ['192.0.2.1', '192.0.2.1', true],
    ['192.0.2.1', '192.0.2.2', false],
    ['0.0.0.0/0', '8.8.8.8', true],
    // an IPv4 range never matches a native IPv6 address
    ['0.0.0.0/0', '2001:db8::1', false],
    // IPv4 and IPv4-mapped IPv6 are the same address, both ways
    ['192.168.1.0/24', '::ffff:192.168.1.7', true],
    ['::ffff:192.168.1.0/120', '192.168.1.9', true],
    ['::ffff:192.168.1.0/120', '192.168.2.9', false],
    ['2001:db8::/32', '2001:db8:ffff::1', true],
    ['2001:db8::/32', '2001:db9::1', false],
    ['2001:db8:0:1::/64', '2001:db8:0:1:ffff:ffff:ffff:ffff', true],
    ['2001:db8:0:1::/64', '2001:db8:0:2::', false],
    ['fe80::/10', 'febf::1', true],
    ['fe80::/10', 'fec0::1', false],
    ['::/0', '8.8.8.8', true],
    ['::/0', '2001:db8::1', true],
  ];
  for (const [range, address, expected] of table) {
    it(`${range} ${expected ? 'contains' : 'does not contain'} ${address}`, () =>
      assert.equal(cidrContains(cidr(range), ip(address)), expected));
  }
});

describe('isNonPublicIp', () => {
  const nonPublic = [
    '0.0.0.0',
    '10.1.2.3',
    '100.64.0.1',
    '127.0.0.1',
    '127.255.255.254',
    '169.254.169.254',
    '172.16.0.1',
    '172.31.255.255',
    '192.0.0.8',
    '192.168.0.1',
    '198.18.0.1',
    '224.0.0.1',
    '255.255.255.255',
    '::',
    '::1',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    '::ffff:169.254.169.254',
    '64:ff9b::a00:1',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    'ff02::1',
  ];
  const publicAddresses = [
    '1.1.1.1',
    '8.8.8.8',
    '93.184.216.34',
    '100.128.0.1',
    '172.32.0.1',
    '192.169.0.1',
    '::ffff:8.8.8.8',
    '2606:4700:4700::1111',
    '2001:4860:4860::8888',
  ];
  for (const address of nonPublic)
    it(`${address} is not public`, () => assert.equal(isNonPublicIp(ip(address)), true));
  for (const address of publicAddresses)
    it(`${address} is public`, () => assert.equal(isNonPublicIp(ip(address)), false));
});
