import { isWellFormedToken } from '../tokens.ts';
import type { SecretRule } from './types.ts';
import { hasGithubChecksum, hasJwtHeader, isCardNumber, isPlausibleSsn } from './validators.ts';

/**
 * The rules Relay scans with (SPEC §8), most specific first: when two findings start at
 * the same place and are as long, the earlier rule names it (a GitHub token after
 * `Bearer ` is reported as a GitHub token).
 *
 * Boundaries are explicit lookarounds on the token's own alphabet, not `\b`, so that a
 * token glued to `_` or to another token's characters is not cut out of a longer word.
 * Patterns are ASCII-only; non-ASCII bytes count as boundaries.
 */

/** Relay's own tokens (SPEC §3), checksum-validated: a look-alike with a bad CRC is not one. */
const relayToken: SecretRule = {
  id: 'relay-token',
  name: 'Relay token',
  severity: 'critical',
  pattern: /(?<![A-Za-z0-9_])(?:rk_proxy_|rk_mgmt_|rly_)[A-Za-z0-9]{38}(?![A-Za-z0-9_])/,
  validate: (token) => isWellFormedToken(token),
};

/** Classic GitHub tokens: personal (ghp_), OAuth (gho_), app user-to-server (ghu_), server-to-server (ghs_), refresh (ghr_). */
const githubToken: SecretRule = {
  id: 'github-token',
  name: 'GitHub token',
  severity: 'critical',
  pattern: /(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{36}(?![A-Za-z0-9_])/,
  validate: hasGithubChecksum,
};

/** Fine-grained personal access tokens: `github_pat_` + 22 + `_` + 59. No published checksum: format only. */
const githubFineGrainedToken: SecretRule = {
  id: 'github-fine-grained-token',
  name: 'GitHub fine-grained personal access token',
  severity: 'critical',
  pattern: /(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}(?![A-Za-z0-9_])/,
};

/**
 * Stripe secret (sk_) and restricted (rk_) keys; Stripe allows up to 255 characters.
 * Publishable keys (pk_live_, pk_test_) are not matched: Stripe designs them to be
 * shipped in web pages and apps, so finding one is not a leak.
 */
const stripeLiveKey: SecretRule = {
  id: 'stripe-live-key',
  name: 'Stripe live secret or restricted key',
  severity: 'critical',
  pattern: /(?<![A-Za-z0-9_])[rs]k_live_[A-Za-z0-9]{24,247}(?![A-Za-z0-9_])/,
};

/** Test-mode keys reach only test data, but they are still an account's credentials. */
const stripeTestKey: SecretRule = {
  id: 'stripe-test-key',
  name: 'Stripe test secret or restricted key',
  severity: 'medium',
  pattern: /(?<![A-Za-z0-9_])[rs]k_test_[A-Za-z0-9]{24,247}(?![A-Za-z0-9_])/,
};

/** Webhook signing secrets: `whsec_` + base64 (Stripe's are 32 alphanumerics; Svix-style ones carry +/=). */
const stripeWebhookSecret: SecretRule = {
  id: 'stripe-webhook-secret',
  name: 'Stripe webhook signing secret',
  severity: 'high',
  pattern: /(?<![A-Za-z0-9_])whsec_[A-Za-z0-9+/]{24,128}={0,2}(?![A-Za-z0-9+/=_])/,
};

/** Long-term (AKIA) and temporary STS (ASIA) access key ids. The id alone grants nothing; it names a key. */
const awsAccessKeyId: SecretRule = {
  id: 'aws-access-key-id',
  name: 'AWS access key id',
  severity: 'high',
  pattern: /(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])/,
};

/**
 * A 40-character AWS secret access key, only where a key name says so
 * (`aws_secret_access_key = …`, `"SecretAccessKey": "…"`, `<SecretAccessKey>…`,
 * `secretAccessKey: '…'`): alone, 40 base64 characters are as likely a hash.
 * Only the value is reported and redacted.
 */
const awsSecretAccessKey: SecretRule = {
  id: 'aws-secret-access-key',
  name: 'AWS secret access key',
  severity: 'critical',
  pattern:
    /(?<![A-Za-z0-9])(?:aws[_.-]?secret(?:[_.-]?access)?[_.-]?key|secret[_.-]?access[_.-]?key)(?:\\?["'])?[ \t]{0,4}(?:=>|:=|[:=>])[ \t]{0,4}(?:\\?["'])?(?<value>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])/i,
};

/**
 * PEM private keys (RFC 7468 §10; also `RSA`, `EC`, `OPENSSH`, `ENCRYPTED`, PGP `… BLOCK`),
 * literal or JSON-escaped newlines alike. The block is capped at 8 KiB between the
 * armour lines (an RSA-4096 key is about 3.2 KiB); without an END line within the cap,
 * the BEGIN line and the base64 that follows it are taken, so a truncated key is still covered.
 * The body stops at the next BEGIN or END line: searching 8 KiB for an END past other
 * BEGIN lines would let a body of repeated BEGIN lines cost 8 KiB of work per 28 bytes.
 */
const pemPrivateKey: SecretRule = {
  id: 'pem-private-key',
  name: 'PEM private key',
  severity: 'critical',
  pattern:
    /-----BEGIN (?:[A-Z0-9]{1,16} ){0,3}PRIVATE KEY(?: BLOCK)?-----(?:(?:(?!-----(?:BEGIN|END) )[\s\S]){1,8192}-----END (?:[A-Z0-9]{1,16} ){0,3}PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s\\:,.-]{0,8192})/,
};

/**
 * JWS compact serialization (RFC 7515 §7.1): three base64url parts whose header decodes
 * to a JSON object with `alg` (so JSON objects start `ey`/`ew` in base64). Parts are
 * capped (header 1 KiB, payload 6 KiB, signature 1 KiB): larger tokens are not reported.
 */
const jwt: SecretRule = {
  id: 'jwt',
  name: 'JSON Web Token',
  severity: 'high',
  pattern:
    /(?<![A-Za-z0-9_-])e[wy][A-Za-z0-9_-]{2,1022}\.[A-Za-z0-9_-]{2,6144}\.[A-Za-z0-9_-]{0,1024}(?![A-Za-z0-9_-])/,
  validate: hasJwtHeader,
};

/**
 * `Bearer <token>` (RFC 6750 §2.1 b64token) anywhere in text, the scheme name in any case
 * (RFC 9110 §11.1), at least 20 token characters. Only the token is reported and
 * redacted; a token longer than 4 KiB is redacted for its first 4 KiB.
 */
const bearerToken: SecretRule = {
  id: 'bearer-token',
  name: 'Bearer token',
  severity: 'high',
  pattern: /(?<![A-Za-z0-9_-])bearer[ \t]{1,8}(?<value>[A-Za-z0-9._~+/-]{20,4096}={0,8})/i,
};

/**
 * Payment card numbers: 13–19 digits, contiguous or grouped 4-4-4-4(-3) / 4-6-4(5) with
 * single spaces or dashes, a known network's IIN and length, and a valid Luhn digit.
 * Not when glued to letters, to a dash-number or to a decimal point (floats in JSON).
 * Every network above starts with 2–6, which the pattern requires up front (twice as fast).
 */
const creditCard: SecretRule = {
  id: 'credit-card',
  name: 'Payment card number',
  severity: 'high',
  pattern:
    /(?<![A-Za-z0-9_.-])[2-6]\d{3}(?:\d{9,15}|([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?|([ -])\d{6}\2\d{4,5})(?![A-Za-z0-9_]|[.-]\d)/,
  validate: isCardNumber,
};

/**
 * US Social Security numbers, dashed form `AAA-GG-SSSS` only: nine bare digits are as
 * often an order or account number. Ranges the SSA never issues are excluded.
 */
const usSsn: SecretRule = {
  id: 'us-ssn',
  name: 'US Social Security number',
  severity: 'high',
  pattern: /(?<![A-Za-z0-9_.-])\d{3}-\d{2}-\d{4}(?![A-Za-z0-9_]|[.-]\d)/,
  validate: isPlausibleSsn,
};

/**
 * E-mail addresses (personal data rather than a secret): RFC 5321 lengths (local part
 * ≤ 64, labels ≤ 63), up to 8 labels and an alphabetic TLD. The pattern starts at the
 * `@`, which the regex engine can skip to, and reads the local part back in a lookbehind
 * (`lead`): starting at every letter of the text instead is four times slower.
 */
const email: SecretRule = {
  id: 'email',
  name: 'E-mail address',
  severity: 'low',
  pattern:
    /@(?<=(?<![A-Za-z0-9._%+-])(?<lead>[A-Za-z0-9._%+-]{1,64})@)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9_-])/,
};

export const SECRET_RULES: readonly SecretRule[] = Object.freeze([
  relayToken,
  githubToken,
  githubFineGrainedToken,
  stripeLiveKey,
  stripeTestKey,
  stripeWebhookSecret,
  awsAccessKeyId,
  awsSecretAccessKey,
  pemPrivateKey,
  jwt,
  bearerToken,
  creditCard,
  usSsn,
  email,
]);

export function ruleById(id: string, rules: readonly SecretRule[] = SECRET_RULES): SecretRule | undefined {
  return rules.find((rule) => rule.id === id);
}
