import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalizeTarget } from '../../src/core/request-target.ts';

interface Accepted {
  readonly target: string;
  readonly connectionId?: string;
  readonly path: string;
  readonly segments: readonly string[];
  readonly rawQuery?: string;
  readonly query?: ReadonlyArray<readonly [string, string]>;
}

const ACCEPTED: readonly Accepted[] = [
  {
    target: '/conn_hubspot/crm/v3/objects?limit=10',
    connectionId: 'conn_hubspot',
    path: '/crm/v3/objects',
    segments: ['crm', 'v3', 'objects'],
    rawQuery: 'limit=10',
    query: [['limit', '10']],
  },
  { target: '/conn_x', path: '/', segments: [] },
  { target: '/conn_x/', path: '/', segments: [] },
  { target: '/conn_x?', path: '/', segments: [], rawQuery: '', query: [] },
  { target: '/conn_x/?a=1', path: '/', segments: [], rawQuery: 'a=1', query: [['a', '1']] },
  { target: '/conn_x/a/', path: '/a/', segments: ['a'] },
  { target: '/conn_my-api_2/v1', connectionId: 'conn_my-api_2', path: '/v1', segments: ['v1'] },
  {
    target: `/conn_${'a'.repeat(80)}/v1`,
    connectionId: `conn_${'a'.repeat(80)}`,
    path: '/v1',
    segments: ['v1'],
  },
  // Unicode, properly percent-encoded as UTF-8, upper- and lower-case hex; the path stays encoded.
  { target: '/conn_x/files/caf%C3%A9', path: '/files/caf%C3%A9', segments: ['files', 'café'] },
  { target: '/conn_x/files/caf%c3%a9', path: '/files/caf%c3%a9', segments: ['files', 'café'] },
  { target: '/conn_x/%F0%9F%98%80', path: '/%F0%9F%98%80', segments: ['😀'] },
  { target: '/conn_x/%E6%97%A5%E6%9C%AC', path: '/%E6%97%A5%E6%9C%AC', segments: ['日本'] },
  { target: '/conn_x/my%20file.txt', path: '/my%20file.txt', segments: ['my file.txt'] },
  // "+" is a space only in the query (WHATWG form-urlencoded), never in the path.
  { target: '/conn_x/v1/a+b', path: '/v1/a+b', segments: ['v1', 'a+b'] },
  // Dots that are not whole dot segments are ordinary.
  { target: '/conn_x/v1/...', path: '/v1/...', segments: ['v1', '...'] },
  { target: '/conn_x/.well-known/x', path: '/.well-known/x', segments: ['.well-known', 'x'] },
  { target: '/conn_x/v1/file%2Etxt', path: '/v1/file%2Etxt', segments: ['v1', 'file.txt'] },
  { target: '/conn_x/v1/%2e%2e%2e', path: '/v1/%2e%2e%2e', segments: ['v1', '...'] },
  { target: '/conn_x/v1/..a', path: '/v1/..a', segments: ['v1', '..a'] },
  {
    target: '/conn_x/v1/projects/p:batchGet',
    path: '/v1/projects/p:batchGet',
    segments: ['v1', 'projects', 'p:batchGet'],
  },
  { target: "/conn_x/~u/!$&'()*,=:@-_", path: "/~u/!$&'()*,=:@-_", segments: ['~u', "!$&'()*,=:@-_"] },
  // Encoded characters that are not delimiters of a path segment.
  { target: '/conn_x/a%3Fb', path: '/a%3Fb', segments: ['a?b'] },
  { target: '/conn_x/a%23b', path: '/a%23b', segments: ['a#b'] },
  { target: '/conn_x/a%25', path: '/a%25', segments: ['a%'] },
  { target: '/conn_x/100%25%20done', path: '/100%25%20done', segments: ['100% done'] },
  { target: '/conn_x/a%7Bb%7D', path: '/a%7Bb%7D', segments: ['a{b}'] },
  // Queries.
  {
    target: '/conn_x/s?q=hello+world&x=%2B1',
    path: '/s',
    segments: ['s'],
    rawQuery: 'q=hello+world&x=%2B1',
    query: [
      ['q', 'hello world'],
      ['x', '+1'],
    ],
  },
  {
    target: '/conn_x/s?a=1&&b=&c&',
    path: '/s',
    segments: ['s'],
    query: [
      ['a', '1'],
      ['b', ''],
      ['c', ''],
    ],
  },
  { target: '/conn_x/s?a=b=c', path: '/s', segments: ['s'], query: [['a', 'b=c']] },
  { target: '/conn_x/s?=x', path: '/s', segments: ['s'], query: [['', 'x']] },
  { target: '/conn_x/s?name=caf%C3%A9', path: '/s', segments: ['s'], query: [['name', 'café']] },
  { target: '/conn_x/s?n%61me=1', path: '/s', segments: ['s'], query: [['name', '1']] },
  {
    target: '/conn_x/s?filter[name]=x&ids[]=1',
    path: '/s',
    segments: ['s'],
    query: [
      ['filter[name]', 'x'],
      ['ids[]', '1'],
    ],
  },
  {
    target: '/conn_x/s?redirect=https%3A%2F%2Fexample.com%2F%2e%2e',
    path: '/s',
    segments: ['s'],
    query: [['redirect', 'https://example.com/..']],
  },
  { target: '/conn_x/s?p=a\\b', path: '/s', segments: ['s'], query: [['p', 'a\\b']] },
  { target: '/conn_x/s?text=a%0Ab', path: '/s', segments: ['s'], query: [['text', 'a\nb']] },
  { target: '/conn_x/s?q=%25', path: '/s', segments: ['s'], query: [['q', '%']] },
  { target: '/conn_x/s?q=%2525', path: '/s', segments: ['s'], query: [['q', '%25']] },
  { target: '/conn_x/s?a?b', path: '/s', segments: ['s'], rawQuery: 'a?b', query: [['a?b', '']] },
  { target: '/conn_x/s?a;b=1', path: '/s', segments: ['s'], query: [['a;b', '1']] },
];

describe('canonicalizeTarget: accepted targets', () => {
  for (const c of ACCEPTED) {
    it(c.target, () => {
      const result = canonicalizeTarget(c.target);
      assert.ok(result.ok, result.ok ? '' : result.error.detail);
      const t = result.value;
      assert.equal(t.connectionId, c.connectionId ?? 'conn_x');
      assert.equal(t.path, c.path);
      assert.deepEqual(t.segments, c.segments);
      if (c.rawQuery !== undefined) assert.equal(t.rawQuery, c.rawQuery);
      assert.deepEqual(t.query, c.query ?? []);
    });
  }
});

/** Each class names the rule it tests; the detail pattern makes the case fail if that rule is removed. */
const REFUSED: ReadonlyArray<{
  readonly rule: string;
  readonly detail: RegExp;
  readonly targets: readonly string[];
}> = [
  {
    rule: 'absolute-, authority- and asterisk-form',
    detail: /origin-form/,
    targets: [
      '',
      '*',
      'http://example.com/conn_x/a',
      'https://h/conn_x',
      'example.com:443',
      'conn_x/a',
      ' /conn_x',
    ],
  },
  {
    rule: 'leading "//"',
    detail: /starts with "\/\/"/,
    targets: ['//conn_x/a', '//example.com/conn_x/a', '//'],
  },
  {
    rule: 'fragment',
    detail: /fragment/,
    targets: ['/conn_x/a#frag', '/conn_x/a?b=1#x', '/conn_x#', '/conn_x/#/a'],
  },
  {
    rule: 'encoded "/"',
    detail: /encoded "\/"/,
    targets: ['/conn_x/a%2Fb', '/conn_x/a%2fb', '/conn_x/%2F', '/conn_x%2Fa', '/conn_x/..%2F..%2Fadmin'],
  },
  {
    rule: 'encoded "\\"',
    detail: /encoded "\\"/,
    targets: ['/conn_x/a%5Cb', '/conn_x/a%5cb', '/conn_x/%5C'],
  },
  {
    rule: 'raw "\\"',
    detail: /raw "\\"/,
    targets: ['/conn_x/a\\b', '/conn_x\\a', '/conn_x/a/\\', '/conn_x/\\\\evil.example'],
  },
  {
    rule: 'dot segments, raw or encoded',
    detail: /dot segment/,
    targets: [
      '/conn_x/.',
      '/conn_x/..',
      '/conn_x/a/../b',
      '/conn_x/./a',
      '/conn_x/a/.',
      '/conn_x/..?x=1',
      '/conn_x/../conn_y/a',
      '/conn_x/%2e',
      '/conn_x/%2E',
      '/conn_x/%2e%2e',
      '/conn_x/%2E%2e',
      '/conn_x/.%2E',
      '/conn_x/%2e./b',
      '/conn_x/a/%2e%2e/b',
    ],
  },
  {
    rule: '%00',
    detail: /%00/,
    targets: ['/conn_x/a%00', '/conn_x/%00.json', '/conn_x/a?b=%00', '/conn_x/a?%00=1', '/conn_x/a?b=x%00y'],
  },
  {
    rule: 'malformed percent-encoding',
    detail: /malformed percent-encoding/,
    targets: [
      '/conn_x/%zz',
      '/conn_x/%4',
      '/conn_x/a%',
      '/conn_x/%G0',
      '/conn_x/%%30',
      '/conn_x/%4g',
      '/conn_x/a?b=%zz',
      '/conn_x/a?b=%4',
      '/conn_x/a?%=1',
      '/conn_x/a?b=1%',
    ],
  },
  {
    rule: 'invalid UTF-8',
    detail: /UTF-8/,
    targets: [
      '/conn_x/%C3',
      '/conn_x/%C3%28',
      '/conn_x/%C0%AE', // overlong "."
      '/conn_x/%C0%AF', // overlong "/"
      '/conn_x/%E0%80%AE', // overlong "."
      '/conn_x/%ED%A0%80', // UTF-16 surrogate
      '/conn_x/%F4%90%80%80', // beyond U+10FFFF
      '/conn_x/%FF',
      '/conn_x/%E2%82',
      '/conn_x/a?q=%C3',
      '/conn_x/a?%C0%AE=1',
    ],
  },
  {
    rule: 'raw ";" path parameters',
    detail: /path parameter/,
    targets: ['/conn_x/a;b', '/conn_x/a;jsessionid=1', '/conn_x/..;/admin', '/conn_x;x/a', '/conn_x/;'],
  },
  {
    rule: 'encoded ";"',
    detail: /encoded ";"/,
    targets: ['/conn_x/a%3Bb', '/conn_x/a%3bb', '/conn_x/..%3B/admin'],
  },
  {
    rule: 'empty segments inside the path',
    detail: /empty path segment/,
    targets: ['/conn_x//a', '/conn_x/a//b', '/conn_x/a//', '/conn_x//', '/conn_x///'],
  },
  {
    rule: 'raw control characters',
    detail: /control/,
    targets: [
      '/conn_x/a\tb',
      '/conn_x/a\x7fb',
      '/conn_x/a\r\nb',
      '/conn_x/a\x00',
      '/conn_x/a?b=\t',
      '/conn_x/a?b=\r\n',
    ],
  },
  {
    rule: 'encoded control characters in the path',
    detail: /encoded control character/,
    targets: ['/conn_x/a%0Ab', '/conn_x/%0d%0a', '/conn_x/%7F', '/conn_x/%1b', '/conn_x/%09'],
  },
  {
    rule: 'missing connection id',
    detail: /missing connection id/,
    targets: ['/', '/?a=1', '/?'],
  },
  {
    rule: 'connection id format',
    detail: /connection id must match/,
    targets: [
      '/hubspot/a',
      '/conn_/a',
      '/CONN_x/a',
      '/conn_x.y/a',
      '/conn_%41/a',
      '/conn_caf%C3%A9',
      `/conn_${'a'.repeat(81)}/a`,
      '/conn_x:1/a',
      '/a/conn_x',
    ],
  },
  {
    rule: 'characters outside pchar must be encoded',
    detail: /must be percent-encoded/,
    targets: [
      '/conn_x/a b',
      '/conn_x/a|b',
      '/conn_x/{id}',
      '/conn_x/a[0]',
      '/conn_x/a"b',
      '/conn_x/a<b>',
      '/conn_x/a^b',
    ],
  },
  {
    rule: 'raw non-ASCII',
    detail: /non-ASCII/,
    targets: [
      '/conn_x/café',
      '/conn_x/\uff0e\uff0e',
      '/conn_x/\u00a0',
      '/conn_x/a?b=é',
      '/conn_x/a?b=\u2028',
    ],
  },
  {
    rule: 'double percent-encoding in the path',
    detail: /double percent-encoding/,
    targets: ['/conn_x/%252e%252e', '/conn_x/a%252Fb', '/conn_x/%255C', '/conn_x/%2500', '/conn_x/%25%32%65'],
  },
  {
    rule: 'space in the query',
    detail: /space/,
    targets: ['/conn_x/a?b=c d', '/conn_x/a? '],
  },
];

describe('canonicalizeTarget: refused targets (400 ambiguous_request)', () => {
  for (const group of REFUSED) {
    for (const target of group.targets) {
      it(`${group.rule}: ${JSON.stringify(target)}`, () => {
        const result = canonicalizeTarget(target);
        assert.equal(result.ok, false, `accepted ${JSON.stringify(target)}`);
        if (result.ok) return;
        assert.equal(result.error.code, 'ambiguous_request');
        assert.match(result.error.detail ?? '', group.detail);
      });
    }
  }
});

/** Small deterministic PRNG (mulberry32) so failures reproduce. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('canonicalizeTarget: invariants over generated targets', () => {
  const pieces = [
    '/',
    'a',
    '.',
    '..',
    '%',
    '2',
    'e',
    'E',
    'f',
    'F',
    '5',
    'c',
    'C',
    '%2e',
    '%2F',
    '%5C',
    '%25',
    ';',
    '\\',
  ];
  it('an accepted path reads the same to a WHATWG URL parser and has no separators hidden in segments', () => {
    const next = random(3986);
    let accepted = 0;
    for (let n = 0; n < 20000; n++) {
      let tail = '';
      const length = 1 + Math.floor(next() * 8);
      for (let i = 0; i < length; i++) tail += pieces[Math.floor(next() * pieces.length)];
      const result = canonicalizeTarget(`/conn_x/${tail}`);
      if (!result.ok) continue;
      accepted++;
      const { path, segments } = result.value;
      // WHATWG URL would resolve dot segments, turn "\" into "/", or re-encode; none may happen.
      assert.equal(new URL(path, 'https://upstream.example').pathname, path, path);
      for (const segment of segments) {
        assert.ok(segment !== '.' && segment !== '..' && segment !== '', path);
        assert.ok(!/[/\\;\0]/.test(segment), path);
      }
      assert.deepEqual(
        segments,
        path
          .split('/')
          .filter((s) => s !== '')
          .map((s) => decodeURIComponent(s)),
      );
    }
    assert.ok(accepted > 1000, `only ${accepted} generated targets were accepted`);
  });
});
