import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ERRORS } from '../../src/core/errors.ts';

/**
 * `docs/errors.md` documents every code of the one error registry (as Fastify
 * checks `docs/Reference/Errors.md` against `lib/errors.js`). This test fails
 * when a code is missing from the page, the page lists a code the registry does
 * not have, or a status or title differs.
 */
const DOC = new URL('../../docs/errors.md', import.meta.url);

interface DocRow {
  readonly code: string;
  readonly status: number;
  readonly title: string;
  readonly when: string;
}

function parseTable(markdown: string): DocRow[] {
  const lines = markdown.split('\n').map((l) => l.trim());
  const header = lines.findIndex((l) => /^\|\s*code\s*\|\s*status\s*\|\s*title\s*\|\s*when\s*\|$/.test(l));
  assert.notEqual(header, -1, 'docs/errors.md needs a table headed | code | status | title | when |');
  assert.match(
    lines[header + 1] ?? '',
    /^\|(\s*:?-+:?\s*\|){4}$/,
    'the header must be followed by a separator row',
  );
  const rows: DocRow[] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    const cells = line
      .slice(1, -1)
      .split('|')
      .map((c) => c.trim());
    assert.equal(cells.length, 4, `row has ${cells.length} cells, want 4: ${line}`);
    const [code = '', status = '', title = '', when = ''] = cells;
    rows.push({ code: code.replace(/`/g, ''), status: Number(status), title, when });
  }
  return rows;
}

describe('docs/errors.md', () => {
  const rows = parseTable(readFileSync(DOC, 'utf8'));
  const documented = new Map(rows.map((r) => [r.code, r]));

  it('lists each code once', () => {
    assert.equal(documented.size, rows.length, 'a code is listed twice');
  });

  it('documents every code of the registry with its status and title', () => {
    const missing = Object.keys(ERRORS).filter((code) => !documented.has(code));
    assert.deepEqual(missing, [], `add these codes to docs/errors.md: ${missing.join(', ')}`);
    for (const def of Object.values(ERRORS)) {
      const row = documented.get(def.code);
      assert.ok(row);
      assert.equal(
        row.status,
        def.status,
        `${def.code}: docs say ${row.status}, registry says ${def.status}`,
      );
      assert.equal(row.title, def.title, `${def.code}: title differs from the registry`);
      assert.ok(row.when.length > 10, `${def.code}: say when it happens`);
    }
  });

  it('documents no code the registry does not have', () => {
    const extra = rows.map((r) => r.code).filter((code) => !Object.hasOwn(ERRORS, code));
    assert.deepEqual(extra, [], `these codes are not in src/core/errors.ts: ${extra.join(', ')}`);
  });

  it('the registry itself is consistent: key equals code, status is an HTTP error status', () => {
    for (const [key, def] of Object.entries(ERRORS)) {
      assert.equal(def.code, key);
      assert.ok(def.status >= 400 && def.status <= 599, `${key}: ${def.status}`);
      assert.ok(def.title.length > 0);
    }
  });
});
