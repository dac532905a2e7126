import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { issueToken, isWellFormedToken, TOKEN_KINDS, type TokenKind } from '../../src/core/tokens.ts';

/**
 * docs/secret-scanning.md tells scanners how to recognise Relay tokens: the
 * table of prefixes and lengths, the regular expression and the checksum
 * recipe. This suite holds the page to the code, so the two cannot drift.
 */
const doc = readFileSync(new URL('../../docs/secret-scanning.md', import.meta.url), 'utf8');
const KINDS = Object.keys(TOKEN_KINDS) as TokenKind[];

function documentedRegex(): RegExp {
  const block = /Regular expression[\s\S]*?```\n(.+)\n\s*```/.exec(doc);
  assert.ok(block?.[1], 'the regular expression block');
  return new RegExp(block[1].trim());
}

/** The recipe as the page states it, written independently of src/core/tokens.ts. */
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
function documentedCheck(candidate: string): boolean {
  const m = /^(rk_proxy_|rk_mgmt_|rly_)([0-9A-Za-z]{32})([0-9A-Za-z]{6})$/.exec(candidate);
  if (m === null) return false;
  let n = crc32(`${m[1]}${m[2]}`);
  let out = '';
  for (; n > 0; n = Math.floor(n / 62)) out = BASE62[n % 62] + out;
  return out.padStart(6, '0') === m[3];
}

describe('docs/secret-scanning.md token formats', () => {
  it('the table gives each prefix and total length', () => {
    for (const kind of KINDS) {
      const { token } = issueToken(kind);
      const prefix = TOKEN_KINDS[kind];
      assert.match(
        doc,
        new RegExp(`\\| \`${prefix}\` \\| 32 base62 \\| 6 base62 \\| ${token.length} \\|`),
        kind,
      );
    }
  });

  it('the regular expression finds every kind in surrounding text, and no longer run', () => {
    const re = documentedRegex();
    for (const kind of KINDS) {
      for (let i = 0; i < 50; i++) {
        const { token } = issueToken(kind);
        assert.equal(re.exec(`RELAY_TOKEN="${token}"\n`)?.[1], token);
        assert.equal(re.exec(`${token}`)?.[1], token);
        assert.equal(re.exec(`${token}x`), null, 'a longer run is not a token');
        assert.equal(re.exec(`x${token}`), null);
      }
    }
  });

  it('the checksum recipe accepts exactly the tokens Relay accepts', () => {
    for (const kind of KINDS) {
      for (let i = 0; i < 200; i++) {
        const { token } = issueToken(kind);
        assert.ok(documentedCheck(token), token);
        const last = token.at(-1) as string;
        const altered = token.slice(0, -1) + (last === 'A' ? 'B' : 'A');
        assert.equal(documentedCheck(altered), isWellFormedToken(altered), altered);
        assert.equal(documentedCheck(altered), false);
      }
    }
  });
});
