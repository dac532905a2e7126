import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseIp } from '../../src/core/ip.ts';
import { formatIpv6, ipGrouping } from '../../src/core/ip-group.ts';
import { confirmationMail, printable } from '../../src/services/ip-confirmation-mail.ts';
import { RecipientNetworkCache } from '../../src/services/trusted-ip-cache.ts';

/** SPEC §6: what "one network" means for new-IP confirmation. */
describe('IP grouping', () => {
  const grouping = ipGrouping({ ipv6Prefix: 64, sharedEgressRanges: [] });

  it('an IPv4 address is its own network', () => {
    assert.equal(grouping.groupOf('203.0.113.42'), '203.0.113.42');
    assert.notEqual(grouping.groupOf('203.0.113.42'), grouping.groupOf('203.0.113.43'));
  });

  it('an IPv4-mapped IPv6 address is the IPv4 address', () => {
    assert.equal(grouping.groupOf('::ffff:203.0.113.42'), '203.0.113.42');
    assert.equal(grouping.groupOf('::FFFF:cb00:712a'), '203.0.113.42');
  });

  it('IPv6 addresses are grouped by /64, in RFC 5952 text', () => {
    assert.equal(grouping.groupOf('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64');
    assert.equal(grouping.groupOf('2001:0DB8:0001:0002::1'), '2001:db8:1:2::/64');
    assert.equal(grouping.groupOf('2001:db8::1'), '2001:db8::/64');
    assert.equal(grouping.groupOf('::1'), '::/64');
    assert.equal(grouping.groupOf('fe80::1'), 'fe80::/64');
    // privacy addresses (RFC 8981) in one /64 are one network; the next /64 is another
    assert.equal(grouping.groupOf('2001:db8:1:2::1'), grouping.groupOf('2001:db8:1:2:ffff:ffff:ffff:ffff'));
    assert.notEqual(grouping.groupOf('2001:db8:1:2::1'), grouping.groupOf('2001:db8:1:3::1'));
  });

  it('the IPv6 prefix is configurable', () => {
    const wide = ipGrouping({ ipv6Prefix: 48, sharedEgressRanges: [] });
    assert.equal(wide.groupOf('2001:db8:1:2::1'), '2001:db8:1::/48');
    assert.equal(wide.groupOf('2001:db8:1:ffff::1'), '2001:db8:1::/48');
    const narrow = ipGrouping({ ipv6Prefix: 128, sharedEgressRanges: [] });
    assert.equal(narrow.groupOf('2001:db8::1'), '2001:db8::1/128');
    const odd = ipGrouping({ ipv6Prefix: 60, sharedEgressRanges: [] });
    assert.equal(odd.groupOf('2001:db8:1:2f::1'), '2001:db8:1:20::/60');
  });

  it('an address inside a shared egress range is that range, IPv4 or IPv6', () => {
    const shared = ipGrouping({
      ipv6Prefix: 64,
      sharedEgressRanges: ['198.51.100.0/24', '2001:db8:ff00::/40'],
    });
    assert.equal(shared.groupOf('198.51.100.7'), '198.51.100.0/24');
    assert.equal(shared.groupOf('::ffff:198.51.100.250'), '198.51.100.0/24');
    assert.equal(shared.groupOf('198.51.101.7'), '198.51.101.7');
    assert.equal(shared.groupOf('2001:db8:ff12:3456::1'), '2001:db8:ff00::/40');
    assert.equal(shared.groupOf('2001:db8:1::1'), '2001:db8:1::/64');
  });

  it('what is not an address has no network', () => {
    for (const text of ['', 'localhost', '1.2.3', '1.2.3.4/32', 'fe80::1%eth0', '::g'])
      assert.equal(grouping.groupOf(text), undefined, text);
  });

  it('an admin may name a network by an address in it or by its text, in any spelling', () => {
    const shared = ipGrouping({ ipv6Prefix: 64, sharedEgressRanges: ['198.51.100.0/24'] });
    assert.equal(shared.normalise('2001:db8:1:2::99'), '2001:db8:1:2::/64');
    assert.equal(shared.normalise('2001:0DB8:1:2:0:0:0:0/64'), '2001:db8:1:2::/64');
    assert.equal(shared.normalise('198.51.100.9'), '198.51.100.0/24');
    assert.equal(shared.normalise('198.51.100.000/24'), '198.51.100.0/24');
    assert.equal(shared.normalise('203.0.113.1'), '203.0.113.1');
    assert.equal(shared.normalise('nonsense'), undefined);
    assert.equal(shared.normalise('2001:db8::/129'), undefined);
  });

  it('a malformed configuration is refused at start', () => {
    assert.throws(() => ipGrouping({ ipv6Prefix: 0, sharedEgressRanges: [] }), /RELAY_IPV6_GROUP_PREFIX/);
    assert.throws(() => ipGrouping({ ipv6Prefix: 129, sharedEgressRanges: [] }), /RELAY_IPV6_GROUP_PREFIX/);
    assert.throws(
      () => ipGrouping({ ipv6Prefix: 64, sharedEgressRanges: ['10.0.0.1'] }),
      /RELAY_SHARED_EGRESS_RANGES/,
    );
    assert.throws(
      () => ipGrouping({ ipv6Prefix: 64, sharedEgressRanges: ['10.0.0.0/33'] }),
      /RELAY_SHARED_EGRESS_RANGES/,
    );
  });

  it('formats IPv6 as RFC 5952 §4 says', () => {
    const cases: Array<[string, string]> = [
      ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not shortened
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run wins
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // the first of equal runs
      ['0:0:0:0:0:0:0:0', '::'],
      ['0:0:0:0:0:0:0:1', '::1'],
      ['1:0:0:0:0:0:0:0', '1::'],
    ];
    for (const [input, expected] of cases)
      assert.equal(formatIpv6(parseIp(input) as Uint8Array), expected, input);
  });
});

describe('the trusted-network cache', () => {
  it('forgets entries after their TTL', () => {
    const cache = new RecipientNetworkCache({ maxEntries: 10, ttlMs: 1000 });
    cache.add('k', 'ws', 'rcp', 0);
    assert.equal(cache.has('k', 999), true);
    assert.equal(cache.has('k', 1000), false);
    assert.equal(cache.size, 0);
  });

  it('holds at most maxEntries, dropping the oldest', () => {
    const cache = new RecipientNetworkCache({ maxEntries: 3, ttlMs: 60_000 });
    for (const k of ['a', 'b', 'c', 'd']) cache.add(k, 'ws', 'rcp', 0);
    assert.equal(cache.size, 3);
    assert.equal(cache.has('a', 1), false);
    assert.equal(cache.has('d', 1), true);
  });

  it('drops a recipient or a workspace at once', () => {
    const cache = new RecipientNetworkCache({ maxEntries: 10, ttlMs: 60_000 });
    cache.add('1', 'ws1', 'rcp1', 0);
    cache.add('2', 'ws1', 'rcp2', 0);
    cache.add('3', 'ws2', 'rcp3', 0);
    cache.dropRecipient('rcp1');
    assert.deepEqual(
      ['1', '2', '3'].map((k) => cache.has(k, 1)),
      [false, true, true],
    );
    cache.dropWorkspace('ws1');
    assert.deepEqual(
      ['1', '2', '3'].map((k) => cache.has(k, 1)),
      [false, false, true],
    );
  });
});

describe('the confirmation mail', () => {
  it('keeps a hostile user agent on one bounded line', () => {
    const mail = confirmationMail({
      recipientName: 'Kate',
      credentialName: 'k',
      ip: '203.0.113.42',
      ipGroup: '203.0.113.42',
      userAgent: `evil\r\nConfirm here instead: https://attacker.example/\u0000${'x'.repeat(500)}`,
      connection: { id: 'conn_x', name: 'X' },
      at: Date.UTC(2026, 4, 1, 14, 22, 18),
      link: 'http://relay.example/confirm-ip/abc',
      ttlHours: 24,
    });
    const client = mail.text.split('\n').find((l) => l.startsWith('Client:')) ?? '';
    assert.ok(!mail.text.includes('\nConfirm here instead'));
    assert.ok(client.length < 230, client);
    assert.match(mail.text, /Time: +2026-05-01 14:22:18 UTC\n/);
    assert.equal(printable('a\u2028b'), 'a b');
  });
});
