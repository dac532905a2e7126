/**
 * Fixtures for the secret-scan suites: realistic but fake secrets, one or more per
 * rule, and look-alikes that must not be reported.
 *
 * Prefixes are assembled at run time ('gh' + 'p_' …) so that this file does not
 * itself look like a leak to a repository's push protection.
 */
import { crc32 } from 'node:zlib';
import { BASE62, encodeBase62 } from '../../src/core/base62.ts';

/** Deterministic PRNG (mulberry32) so fixtures are the same on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function chars(alphabet: string, length: number, seed: number): string {
  const next = prng(seed);
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(next() * alphabet.length)];
  return out;
}

export const base62 = (length: number, seed: number): string => chars(BASE62, length, seed);
const base64 = (length: number, seed: number): string => chars(`${BASE62}+/`, length, seed);
const base64url = (length: number, seed: number): string => chars(`${BASE62}-_`, length, seed);

/** A classic GitHub token: prefix, 30 base62, CRC32 of those 30 in 6 base62. */
export function githubToken(kind: 'p' | 'o' | 'u' | 's' | 'r', seed: number): string {
  const random = base62(30, seed);
  return `gh${kind}_${random}${encodeBase62(crc32(random), 6)}`;
}

/** A Relay token as `issueToken` makes one (checksum over prefix + random), but reproducible. */
export function relayToken(prefix: string, seed: number): string {
  const body = prefix + base62(32, seed);
  return body + encodeBase62(crc32(body), 6);
}

/** Appends the Luhn check digit. */
export function withLuhn(partial: string): string {
  for (let d = 0; d <= 9; d++) {
    const candidate = `${partial}${d}`;
    let sum = 0;
    for (let i = 0; i < candidate.length; i++) {
      let digit = Number(candidate[candidate.length - 1 - i]);
      if (i % 2 === 1) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
      sum += digit;
    }
    if (sum % 10 === 0) return candidate;
  }
  throw new Error('unreachable');
}

const b64url = (json: object): string => Buffer.from(JSON.stringify(json)).toString('base64url');

export function jwt(header: object, payload: object, seed: number, signatureLength = 43): string {
  return `${b64url(header)}.${b64url(payload)}.${base64url(signatureLength, seed)}`;
}

function pemBody(seed: number, lines: number, eol: string): string {
  const out: string[] = [];
  for (let i = 0; i < lines; i++) out.push(base64(64, seed + i));
  return out.join(eol);
}

const PRIVATE = 'PRIVATE KEY';
export const pem = (label: string, seed: number, lines = 25, eol = '\n'): string =>
  `-----BEGIN ${label}${PRIVATE}-----${eol}${pemBody(seed, lines, eol)}${eol}-----END ${label}${PRIVATE}-----`;

export interface TruePositive {
  readonly rule: string;
  /** What a test calls it. */
  readonly label: string;
  /** The secret: the exact text a finding must cover. */
  readonly secret: string;
  /** Surrounding text, `{}` standing for the secret. */
  readonly context: string;
}

const awsSecret = base64(40, 41);

export const TRUE_POSITIVES: readonly TruePositive[] = [
  {
    rule: 'relay-token',
    label: 'proxy token',
    secret: relayToken('rk_' + 'proxy_', 1),
    context: 'token={}&x=1',
  },
  { rule: 'relay-token', label: 'management token', secret: relayToken('rk_' + 'mgmt_', 2), context: '"{}"' },
  { rule: 'relay-token', label: 'app token', secret: relayToken('rl' + 'y_', 3), context: 'key: {}\n' },
  { rule: 'github-token', label: 'ghp_', secret: githubToken('p', 10), context: 'GITHUB_TOKEN={}' },
  { rule: 'github-token', label: 'gho_', secret: githubToken('o', 11), context: '{"access_token":"{}"}' },
  { rule: 'github-token', label: 'ghu_', secret: githubToken('u', 12), context: 'user token {} here' },
  { rule: 'github-token', label: 'ghs_', secret: githubToken('s', 13), context: "'{}'" },
  { rule: 'github-token', label: 'ghr_', secret: githubToken('r', 14), context: 'refresh={};' },
  {
    rule: 'github-fine-grained-token',
    label: 'github_pat_',
    secret: `github_${'pat_'}${base62(22, 15)}_${base62(59, 16)}`,
    context: 'pat: {}',
  },
  {
    rule: 'stripe-live-key',
    label: 'sk_live_ (long form)',
    secret: `sk_${'live_'}51${base62(97, 20)}`,
    context: 'STRIPE_KEY={}',
  },
  { rule: 'stripe-live-key', label: 'rk_live_', secret: `rk_${'live_'}${base62(24, 21)}`, context: '"{}",' },
  { rule: 'stripe-test-key', label: 'sk_test_', secret: `sk_${'test_'}${base62(24, 22)}`, context: 'key={}' },
  { rule: 'stripe-test-key', label: 'rk_test_', secret: `rk_${'test_'}${base62(99, 23)}`, context: '({})' },
  {
    rule: 'stripe-webhook-secret',
    label: 'whsec_',
    secret: `whsec${'_'}${base62(32, 24)}`,
    context: 'STRIPE_WEBHOOK_SECRET={}\n',
  },
  {
    rule: 'aws-access-key-id',
    label: 'AKIA',
    secret: `AKIA${chars('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16, 30)}`,
    context: 'aws_access_key_id = {}\n',
  },
  {
    rule: 'aws-access-key-id',
    label: 'ASIA',
    secret: `ASIA${chars('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16, 31)}`,
    context: '"AccessKeyId": "{}"',
  },
  {
    rule: 'aws-secret-access-key',
    label: 'ini file',
    secret: awsSecret,
    context: '[default]\naws_secret_access_key = {}\n',
  },
  {
    rule: 'aws-secret-access-key',
    label: 'env',
    secret: base64(40, 42),
    context: 'AWS_SECRET_ACCESS_KEY="{}"',
  },
  {
    rule: 'aws-secret-access-key',
    label: 'STS JSON',
    secret: base64(40, 43),
    context: '{"Credentials":{"SecretAccessKey":"{}"}}',
  },
  {
    rule: 'aws-secret-access-key',
    label: 'STS XML',
    secret: base64(40, 44),
    context: '<SecretAccessKey>{}</SecretAccessKey>',
  },
  {
    rule: 'aws-secret-access-key',
    label: 'JS SDK',
    secret: base64(40, 45),
    context: "{ secretAccessKey: '{}' }",
  },
  {
    rule: 'aws-secret-access-key',
    label: 'JSON inside a JSON string',
    secret: base64(40, 46),
    context: '{"env":"{\\"aws_secret_access_key\\":\\"{}\\"}"}',
  },
  { rule: 'pem-private-key', label: 'RSA', secret: pem('RSA ', 50), context: 'key:\n{}\n' },
  { rule: 'pem-private-key', label: 'PKCS#8', secret: pem('', 51, 16), context: '{}' },
  { rule: 'pem-private-key', label: 'OpenSSH', secret: pem('OPENSSH ', 52, 7), context: '# id\n{}\n' },
  {
    rule: 'pem-private-key',
    label: 'EC, JSON-escaped newlines',
    secret: pem('EC ', 53, 3, '\\n'),
    context: '{"private_key":"{}\\n"}',
  },
  {
    rule: 'pem-private-key',
    label: 'truncated, no END line',
    secret: `-----BEGIN ${PRIVATE}-----\n${pemBody(54, 3, '\n')}\n`,
    context: 'log: "{}" end',
  },
  {
    rule: 'jwt',
    label: 'HS256',
    secret: jwt({ alg: 'HS256', typ: 'JWT' }, { sub: '1234567890', iat: 1516239022 }, 60),
    context: 'token={}',
  },
  {
    rule: 'jwt',
    label: 'RS256 in JSON',
    secret: jwt({ alg: 'RS256', kid: 'k1' }, { iss: 'https://idp.example', exp: 1900000000 }, 61, 342),
    context: '{"id_token":"{}"}',
  },
  {
    rule: 'bearer-token',
    label: 'opaque',
    secret: base62(32, 70),
    context: 'Authorization: Bearer {}\r\n',
  },
  {
    rule: 'bearer-token',
    label: 'lower-case scheme, base64 with padding',
    secret: `${base64(30, 71)}==`,
    context: '{"headers":{"authorization":"bearer {}"}}',
  },
  { rule: 'credit-card', label: 'Visa', secret: withLuhn('411111111111111'), context: 'card={}' },
  { rule: 'credit-card', label: 'Visa 13', secret: withLuhn('422222222222'), context: 'pan: {}.' },
  {
    rule: 'credit-card',
    label: 'Visa grouped',
    secret: '4111 1111 1111 1111',
    context: 'Card: {}, exp 12/29',
  },
  { rule: 'credit-card', label: 'Mastercard 5x', secret: withLuhn('555555555555444'), context: '"{}"' },
  { rule: 'credit-card', label: 'Mastercard 2x dashed', secret: '2223-0031-2200-3222', context: '({})' },
  { rule: 'credit-card', label: 'Amex', secret: withLuhn('37828224631000'), context: '"number": {},' },
  { rule: 'credit-card', label: 'Amex grouped', secret: '3782 822463 10005', context: 'amex {}' },
  { rule: 'credit-card', label: 'Discover', secret: withLuhn('601111111111111'), context: '{}\n' },
  { rule: 'credit-card', label: 'Discover 65', secret: withLuhn('650000000000000'), context: '[{}]' },
  { rule: 'credit-card', label: 'JCB', secret: withLuhn('356600202036050'), context: 'jcb={}' },
  { rule: 'credit-card', label: 'Diners', secret: withLuhn('3056930009020'), context: 'diners={}' },
  { rule: 'us-ssn', label: 'SSN', secret: '536-22-1940', context: '"ssn":"{}"' },
  { rule: 'us-ssn', label: 'SSN, high area', secret: '899-01-0001', context: 'SSN {}.' },
  { rule: 'email', label: 'plain', secret: 'jane.doe@example.com', context: 'mail {} now' },
  {
    rule: 'email',
    label: 'tag and subdomains',
    secret: 'ops+relay@mail.eu.example.co.uk',
    context: '"to":"{}"',
  },
];

export function embed(positive: TruePositive): string {
  return positive.context.replace('{}', positive.secret);
}

export interface FalsePositive {
  readonly label: string;
  readonly text: string;
}

const realGithub = githubToken('p', 90);
const goodProxy = relayToken('rk_' + 'proxy_', 91);

/** Look-alikes: none of these may produce a finding. */
export const FALSE_POSITIVES: readonly FalsePositive[] = [
  { label: '16 digits failing Luhn', text: 'card=4111111111111112' },
  { label: '16 digits, Luhn but no known network', text: `id=${withLuhn('123456781234567')}` },
  { label: 'Visa with a wrong length (15)', text: `n=${withLuhn('41111111111111')}` },
  { label: 'card digits inside a decimal', text: '{"lat":0.4111111111111111}' },
  { label: 'card digits glued to a word', text: 'INV-4111111111111111 and ref4111111111111111' },
  { label: 'card digits in a longer number', text: '41111111111111110000' },
  { label: 'ghp_ too short', text: `${realGithub.slice(0, -1)} x` },
  { label: 'ghp_ too long', text: `${realGithub}a` },
  {
    label: 'ghp_ with a bad checksum',
    text: `${realGithub.slice(0, -1)}${realGithub.endsWith('A') ? 'B' : 'A'}`,
  },
  {
    label: 'rk_proxy_ with a bad checksum',
    text: `token ${goodProxy.slice(0, -1)}${goodProxy.endsWith('A') ? 'B' : 'A'} end`,
  },
  { label: 'rk_proxy_ with a wrong length', text: `${goodProxy.slice(0, -2)}` },
  { label: 'Relay prefix with a foreign kind', text: `rk_other_${base62(38, 92)}` },
  { label: 'Stripe publishable key', text: `pk_${'live_'}${base62(24, 93)} pk_${'test_'}${base62(24, 94)}` },
  { label: 'Stripe key too short', text: `sk_${'live_'}${base62(10, 95)}` },
  { label: 'base64 JSON without alg', text: jwt({ foo: 'bar' }, { sub: '1' }, 96) },
  {
    label: 'base64 not JSON, three parts',
    text: `eyJ${base64url(20, 97)}.${base64url(30, 98)}.${base64url(43, 99)}`,
  },
  { label: 'dotted base64 not starting like JSON', text: 'aGVsbG8gd29ybGQ.c29tZSBkYXRh.c2ln' },
  { label: 'JSON array header', text: `${b64url(['alg'])}.${b64url({ a: 1 })}.sig` },
  {
    label: 'plain base64 blob',
    text: `{"data":"${Buffer.from('{"alg" is not here}'.repeat(5)).toString('base64')}"}`,
  },
  { label: 'SSN area 000', text: '000-12-3456' },
  { label: 'SSN area 666', text: '666-12-3456' },
  { label: 'SSN area 900-999', text: '900-12-3456 and 987-65-4321' },
  { label: 'SSN group 00', text: '123-00-4567' },
  { label: 'SSN serial 0000', text: '123-45-0000' },
  { label: 'SSN without dashes', text: 'ssn 536221940' },
  { label: 'SSN inside a longer dashed number', text: '1-536-22-1940 and 536-22-1940-7' },
  { label: 'phone number', text: 'call 555-123-4567' },
  { label: 'dates', text: '2024-01-15T10:00:00Z, 15-01-2024' },
  { label: 'order numbers', text: 'order #1000234567, ORD-2024-000123, PO 20240115000123' },
  { label: 'ms timestamp', text: '{"ts":1700000000000}' },
  {
    label: 'UUIDs',
    text: '123e4567-e89b-12d3-a456-426614174000 12345678-1234-1234-1234-123456789012 00000000-0000-0000-0000-000000000000',
  },
  {
    label: 'hashes',
    text: 'sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709 sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 md5 d41d8cd98f00b204e9800998ecf8427e',
  },
  { label: '40 base64 characters without AWS context', text: `value = ${base64(40, 100)}` },
  { label: 'AWS-like secret under another key name', text: `"client_secret": "${base64(40, 101)}"` },
  { label: 'AKIA too short and too long', text: 'AKIA1234ABCD AKIAABCDEFGHIJKLMNOPQR' },
  { label: 'AKIA inside a word', text: 'xAKIAABCDEFGHIJKLMNOP' },
  { label: 'not e-mail addresses', text: 'user@localhost @types/node lodash@4.17.21 a@b x@y.z' },
  { label: 'public key and certificate', text: '-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----' },
  { label: 'certificate', text: '-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----' },
  { label: 'short bearer', text: 'Authorization: Bearer abc123' },
  { label: 'bearer in prose', text: 'the bearer of this letter is entitled to everything' },
  { label: 'bearer glued to a word', text: `xbearer ${base62(30, 102)}` },
  { label: 'IP addresses and versions', text: '192.168.100.200 v1.2.3.4 10.0.0.1:8080' },
];
