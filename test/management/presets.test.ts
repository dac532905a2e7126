import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AUTH_TYPES } from '../../src/core/model.ts';
import { compileGlob } from '../../src/core/path-glob.ts';
import { DIALECTS, skipFor, startTestRelay } from '../harness.ts';
import { assertProblem, distinctSecret } from './helpers.ts';
import { workspaceState } from './state.ts';

/** SPEC §4, issue 4 item 6: vendor presets, listed by GET /api/v1/presets and usable by name. */

const REQUIRED = [
  'openai',
  'anthropic',
  'github',
  'stripe',
  'cloudflare',
  'resend',
  'elevenlabs',
  'hubspot',
  'greenhouse',
  'hibob',
];

interface PresetView {
  id: string;
  name: string;
  base_url: string;
  auth: { type: string; header_name?: string; username?: string };
  extra_headers: Record<string, string>;
  read_only_scope: { allowed_methods: string[]; allowed_paths: string[] };
  sensitive_paths: string[];
  money_moving_paths: string[];
  docs: string;
}

const validGlob = (p: string) => compileGlob(p).ok;

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const relay = await startTestRelay(dialect);
    const listed = await relay.api('GET', '/api/v1/presets');
    const presets: PresetView[] = listed.body?.data ?? [];
    const byId = new Map(presets.map((p) => [p.id, p]));

    it('lists at least the ten required vendors, each once', () => {
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      const missing = REQUIRED.filter((id) => !byId.has(id));
      assert.deepEqual(missing, []);
      assert.equal(byId.size, presets.length, 'a preset id is listed twice');
    });

    it('each names an https base URL, an injection style and a well-formed read-only scope', () => {
      for (const p of presets) {
        assert.equal(new URL(p.base_url).protocol, 'https:', p.id);
        assert.ok((AUTH_TYPES as readonly string[]).includes(p.auth.type), `${p.id}: ${p.auth.type}`);
        if (p.auth.type === 'header')
          assert.ok(p.auth.header_name, `${p.id}: header preset without header_name`);
        assert.ok(p.name.length > 0 && p.docs.length > 0, p.id);
        assert.equal(typeof p.extra_headers, 'object', p.id);
        assert.ok(p.read_only_scope.allowed_methods.length > 0, p.id);
        assert.ok(p.read_only_scope.allowed_paths.length > 0, p.id);
        assert.ok(p.read_only_scope.allowed_methods.includes('GET'), p.id);
        assert.ok(
          !p.read_only_scope.allowed_methods.some((m) => ['PUT', 'PATCH', 'DELETE'].includes(m)),
          p.id,
        );
        for (const glob of [
          ...p.read_only_scope.allowed_paths,
          ...p.sensitive_paths,
          ...p.money_moving_paths,
        ]) {
          assert.ok(validGlob(glob), `${p.id}: "${glob}" is not a valid path pattern`);
        }
      }
    });

    it('injection styles match the vendors', () => {
      const expect: Record<string, { type: string; header_name?: string; base_url: string }> = {
        openai: { type: 'bearer', base_url: 'https://api.openai.com' },
        anthropic: { type: 'header', header_name: 'x-api-key', base_url: 'https://api.anthropic.com' },
        github: { type: 'bearer', base_url: 'https://api.github.com' },
        stripe: { type: 'bearer', base_url: 'https://api.stripe.com' },
        elevenlabs: { type: 'header', header_name: 'xi-api-key', base_url: 'https://api.elevenlabs.io' },
        greenhouse: { type: 'basic', base_url: 'https://harvest.greenhouse.io' },
      };
      for (const [id, want] of Object.entries(expect)) {
        const p = byId.get(id);
        assert.equal(p?.auth.type, want.type, id);
        assert.equal(p?.auth.header_name, want.header_name, id);
        assert.equal(p?.base_url.replace(/\/+$/, ''), want.base_url, id);
      }
      assert.equal(byId.get('anthropic')?.extra_headers['anthropic-version'], '2023-06-01');
      assert.ok(
        (byId.get('stripe')?.money_moving_paths.length ?? 0) > 0,
        'stripe names its money-moving endpoints',
      );
    });

    it('a connection from {preset, name, auth: {secret}} alone takes base URL and injection from the preset', async () => {
      for (const p of presets) {
        const res = await relay.api('POST', '/api/v1/connections', {
          preset: p.id,
          name: p.name,
          auth: { secret: distinctSecret(p.id) },
        });
        assert.equal(res.status, 201, `${p.id}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.preset, p.id);
        assert.equal(res.body.base_url.replace(/\/+$/, ''), p.base_url.replace(/\/+$/, ''), p.id);
        assert.equal(res.body.auth.type, p.auth.type, p.id);
        if (p.auth.header_name !== undefined)
          assert.equal(res.body.auth.header_name, p.auth.header_name, p.id);
      }
    });

    it('anthropic: the key goes in the x-api-key header', async () => {
      const res = await relay.api('POST', '/api/v1/connections', {
        id: 'conn_anthropic',
        preset: 'anthropic',
        name: 'Claude',
        auth: { secret: distinctSecret('anthropic') },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.deepEqual(res.body.auth, { type: 'header', header_name: 'x-api-key' });
      assert.equal(res.body.base_url.replace(/\/+$/, ''), 'https://api.anthropic.com');
      const got = await relay.api('GET', '/api/v1/connections/conn_anthropic');
      assert.deepEqual(got.body.auth, res.body.auth);
    });

    it('what the caller gives wins over the preset', async () => {
      const res = await relay.api('POST', '/api/v1/connections', {
        preset: 'openai',
        name: 'Azure-style gateway',
        base_url: 'https://gateway.example.com/openai',
        auth: { type: 'header', header_name: 'api-key', secret: distinctSecret('gw') },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.body.base_url.replace(/\/+$/, ''), 'https://gateway.example.com/openai');
      assert.deepEqual(res.body.auth, { type: 'header', header_name: 'api-key' });
      assert.equal(res.body.preset, 'openai');
    });

    it('an unknown preset is 400 and creates nothing', async () => {
      const before = await workspaceState(relay);
      assertProblem(
        await relay.api('POST', '/api/v1/connections', {
          preset: 'nosuchvendor',
          name: 'x',
          auth: { secret: distinctSecret('x') },
        }),
        400,
        'validation_failed',
      );
      assert.deepEqual(await workspaceState(relay), before);
    });

    it("each preset's read-only scope is issued without a risk acknowledgement", async () => {
      for (const p of presets) {
        const created = await relay.api('POST', '/api/v1/connections', {
          preset: p.id,
          name: `${p.name} (read-only)`,
          auth: { secret: distinctSecret(p.id) },
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        const res = await relay.api('POST', '/api/v1/credentials', {
          name: `${p.id} read-only`,
          grants: [{ connection_id: created.body.id, ...p.read_only_scope }],
          ttl_seconds: 3600,
          ip_allowlist: ['203.0.113.0/24'],
        });
        assert.equal(res.status, 201, `${p.id}: ${JSON.stringify(res.body)}`);
        const high = res.body.review.findings.filter((f: { severity: string }) => f.severity === 'high');
        assert.deepEqual(high, [], p.id);
      }
    });

    it('presets are readable by a viewer', async () => {
      const viewer = await relay.api('POST', '/api/v1/tokens', { name: 'v', role: 'viewer' });
      const res = await relay.api('GET', '/api/v1/presets', undefined, viewer.body.token);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, listed.body);
    });
  });
}
