import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { writeAuditBatch } from '../../src/services/audit-batch.ts';
import { CSV_COLUMNS, csvField, csvRow } from '../../src/services/audit-export.ts';
import { cli } from '../cli/cli-harness.ts';
import { DIALECTS, skipFor, startTestRelay, tempDir } from '../harness.ts';
import { auditRecord } from './helpers.ts';

/** SPEC §7: export as JSONL or CSV, streamed, with the list's filters; `relay audit export`. */

/** RFC 4180 parsing, strict enough to catch a field that was not quoted when it had to be. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  while (i < text.length) {
    if (text[i] === '"') {
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        assert.ok(q !== -1, 'unterminated quoted field');
        field += text.slice(i, q);
        i = q + 1;
        if (text[i] === '"') {
          field += '"';
          i++;
        } else break;
      }
    }
    const c = text[i];
    if (c === ',') {
      row.push(field);
      field = '';
      i++;
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i += 2;
    } else if (c !== undefined) {
      assert.ok(c !== '"' && c !== '\n' && c !== '\r', `bare ${JSON.stringify(c)} at ${i}`);
      field += c;
      i++;
    }
  }
  assert.equal(field, '', 'the last row ends with CRLF');
  assert.deepEqual(row, []);
  return rows;
}

/** A JSON view's value as its CSV cell reads back. */
function cellOf(value: unknown): string {
  if (value === null) return '';
  const text = String(value);
  return typeof value === 'string' && /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

describe('CSV fields (RFC 4180)', () => {
  it('quotes fields with commas, quotes, CR or LF, doubling the quotes', () => {
    assert.equal(csvField('plain'), 'plain');
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('line\nbreak'), '"line\nbreak"');
    assert.equal(csvField('cr\rhere'), '"cr\rhere"');
    assert.equal(csvField(''), '');
    assert.equal(csvField(null), '');
    assert.equal(csvField(12.5), '12.5');
  });

  it('defuses text a spreadsheet would run as a formula (OWASP CSV injection)', () => {
    for (const text of ['=HYPERLINK("http://x")', '+1', '-2', '@SUM(A1)', '\tTAB'])
      assert.ok(csvField(text).replace(/^"/, '').startsWith("'"), text);
    assert.equal(csvField('=1,2'), '"\'=1,2"');
    assert.equal(csvField(-2), '-2');
  });

  it('a row parses back into the same fields', () => {
    const view = {
      ...Object.fromEntries(CSV_COLUMNS.map((c) => [c, null])),
      id: 'evt_1',
      path: '/a,"b"\r\nc',
      status: 200,
    } as unknown as Parameters<typeof csvRow>[0];
    const [row] = parseCsv(csvRow(view));
    assert.equal(row?.[CSV_COLUMNS.indexOf('path')], '/a,"b"\r\nc');
    assert.equal(row?.[CSV_COLUMNS.indexOf('status')], '200');
  });
});

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const relay = await startTestRelay(dialect);
    const { store } = relay.running.relay;
    const workspaceId = relay.workspaceId;
    const tricky = [
      auditRecord({ workspaceId, path: '/comma,path', userAgent: 'agent "quoted", with comma' }),
      auditRecord({ workspaceId, path: '/multi\nline', query: 'a=1\r\nb=2', userAgent: null }),
      auditRecord({ workspaceId, userAgent: '=cmd|" /C calc"!A0', decision: 'blocked', status: 403 }),
    ];
    const bulk = Array.from({ length: 1100 }, (_, i) =>
      auditRecord({
        workspaceId,
        decision: i % 10 === 0 ? 'blocked' : 'allowed',
        status: i % 10 === 0 ? 403 : 200,
      }),
    );
    await writeAuditBatch(store, tricky);
    for (let i = 0; i < bulk.length; i += 500) await writeAuditBatch(store, bulk.slice(i, i + 500));
    const listed = async (query = '') => {
      const out: Record<string, unknown>[] = [];
      let cursor: string | null = null;
      do {
        const res = await relay.api(
          'GET',
          `/api/v1/audit?limit=1000${query}${cursor ? `&cursor=${cursor}` : ''}`,
        );
        assert.equal(res.status, 200);
        out.push(...res.body.data);
        cursor = res.body.next_cursor;
      } while (cursor !== null);
      return out;
    };
    const all = await listed();
    const exported = (query: string, token = relay.adminToken) =>
      fetch(`${relay.apiUrl}/api/v1/audit/export?${query}`, {
        headers: { authorization: `Bearer ${token}` },
      });

    it('JSONL: one record per line, exactly the list, streamed (chunked, no length)', async () => {
      const res = await exported('format=jsonl');
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/x-ndjson/);
      assert.equal(res.headers.get('content-length'), null);
      assert.equal(res.headers.get('transfer-encoding'), 'chunked');
      assert.match(res.headers.get('content-disposition') ?? '', /attachment; filename="audit-ws_.*\.jsonl"/);
      const text = await res.text();
      assert.ok(text.endsWith('\n'));
      const lines = text.trimEnd().split('\n');
      assert.equal(lines.length, all.length);
      assert.deepEqual(
        lines.map((l) => JSON.parse(l)),
        all,
      );
    });

    it('CSV: a header row, then one row per record, quoted where needed', async () => {
      const res = await exported('format=csv');
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/csv/);
      const [header, ...rows] = parseCsv(await res.text());
      assert.deepEqual(header, [...CSV_COLUMNS]);
      assert.equal(rows.length, all.length);
      for (const [i, row] of rows.entries()) {
        const view = all[i] as Record<string, unknown>;
        assert.deepEqual(
          row,
          CSV_COLUMNS.map((c) => cellOf(view[c])),
        );
      }
      const agentColumn = CSV_COLUMNS.indexOf('user_agent');
      assert.ok(rows.some((r) => r[agentColumn] === 'agent "quoted", with comma'));
      assert.ok(rows.some((r) => r[agentColumn] === `'=cmd|" /C calc"!A0`));
    });

    it('takes the same filters as GET /api/v1/audit; a viewer may export', async () => {
      const viewer = await relay.api('POST', '/api/v1/tokens', { name: 'export viewer', role: 'viewer' });
      const res = await exported('format=jsonl&decision=blocked&status=403', viewer.body.token);
      assert.equal(res.status, 200);
      const lines = (await res.text())
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.deepEqual(lines, await listed('&decision=blocked&status=403'));
      assert.equal(lines.length, 111);
    });

    it('refuses an unknown format or filter as validation_failed', async () => {
      for (const query of [
        'format=xml',
        'format=csv&colour=red',
        'since=2030-01-02T00:00:00Z&until=2030-01-01T00:00:00Z',
      ]) {
        const res = await exported(query);
        assert.equal(res.status, 400, query);
        assert.equal(((await res.json()) as { code: string }).code, 'validation_failed');
      }
    });

    it('relay audit export writes the same CSV to stdout, and to a 0600 file with --output', async () => {
      const env = {
        RELAY_DATA_DIR: relay.config.dataDir,
        RELAY_DATABASE_URL: relay.config.databaseUrl,
        RELAY_LOG_LEVEL: 'silent',
      };
      const api = await (await exported('format=csv&decision=blocked')).text();
      const out = await cli(['audit', 'export', '--format', 'csv', '--decision', 'blocked'], env);
      assert.equal(out.code, 0, out.stderr);
      assert.equal(out.stdout, api);
      const file = join(tempDir(), 'audit.jsonl');
      const written = await cli(['audit', 'export', '--output', file], env);
      assert.equal(written.code, 0, written.stderr);
      assert.equal(readFileSync(file, 'utf8').trimEnd().split('\n').length, all.length);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const again = await cli(['audit', 'export', '--output', file], env);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /EEXIST|exists/);
      const bad = await cli(['audit', 'export', '--format', 'xml'], env);
      assert.equal(bad.code, 2);
    });
  });
}
