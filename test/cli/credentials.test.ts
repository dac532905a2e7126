import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CliEnv, cli, cliJson, initialised, oneLineError, transcript } from './cli-harness.ts';

const SECRET = 'sk-upstream-credtest-00001234';

async function withConnections(extra: CliEnv = {}): Promise<CliEnv> {
  const { env } = await initialised(extra);
  for (const id of ['conn_alpha', 'conn_beta']) {
    await cliJson(
      [
        'connections',
        'add',
        '--id',
        id,
        '--name',
        id,
        '--base-url',
        'https://api.example.com',
        '--auth-type',
        'bearer',
        '--secret-stdin',
      ],
      env,
      SECRET,
    );
  }
  return env;
}

describe('relay credentials', () => {
  it('add --json returns the issued view: an rk_proxy_ token, grants parsed from --grant, and an agent prompt', async () => {
    const env = await withConnections({ RELAY_PUBLIC_PROXY_URL: 'https://relay.example.test' });
    const issued = await cliJson(
      [
        'credentials',
        'add',
        '--name',
        'ci bot',
        '--grant',
        // literal paths: a write method on a wildcard could reach e.g. /v1/api-keys, which the safety review flags
        'conn_alpha:get,POST:/v1/items,/v2/orders',
        '--grant',
        'conn_beta:GET:/items:batch',
        '--deny-query',
        'conn_alpha:api_key',
        '--ttl',
        '3600',
        '--ip-allow',
        '10.0.0.0/8',
      ],
      env,
    );
    assert.match(issued.token, /^rk_proxy_[0-9A-Za-z]+$/);
    assert.match(issued.id, /^cred_/);
    assert.ok(issued.token.startsWith(issued.token_prefix));
    assert.deepEqual(issued.grants, [
      {
        connection_id: 'conn_alpha',
        allowed_methods: ['GET', 'POST'],
        allowed_paths: ['/v1/items', '/v2/orders'],
        deny_query_params: ['api_key'],
      },
      {
        connection_id: 'conn_beta',
        allowed_methods: ['GET'],
        allowed_paths: ['/items:batch'],
        deny_query_params: [],
      },
    ]);
    assert.equal(issued.ip_mode, 'allowlist');
    assert.deepEqual(issued.ip_allowlist, ['10.0.0.0/8']);
    assert.equal(issued.status, 'active');
    assert.ok(Date.parse(issued.expires_at) > Date.now());
    assert.deepEqual(issued.review, { findings: [] });
    assert.match(issued.agent_prompt, /https:\/\/relay\.example\.test\/<connection id>/);
    assert.equal(issued.agent_prompt.includes(issued.token), false);

    const got = await cliJson(['credentials', 'get', issued.id], env);
    assert.equal(got.token, undefined);
    assert.equal(got.agent_prompt, undefined);
    assert.deepEqual(got.grants, issued.grants);
    const list = await cliJson(['credentials', 'list'], env);
    assert.equal(list.length, 1);
    assert.equal(JSON.stringify(list).includes(issued.token), false);
  });

  it('add without --json prints the token once and the agent prompt with the default proxy URL', async () => {
    const env = await withConnections({ RELAY_PROXY_PORT: '9999' });
    const result = await cli(
      ['credentials', 'add', '--name', 'human', '--grant', 'conn_alpha:GET:/**', '--ttl', '3600'],
      env,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.match(/rk_proxy_[0-9A-Za-z]+/g)?.length, 1);
    assert.match(result.stdout, /shown this once/);
    assert.match(result.stdout, /http:\/\/localhost:9999\/conn_alpha/);
  });

  it('refuses malformed grants and options with exit 2 and one line', async () => {
    const env = await withConnections();
    const cases: string[][] = [
      ['credentials', 'add', '--name', 'x'],
      ['credentials', 'add', '--name', 'x', '--grant', 'conn_alpha'],
      ['credentials', 'add', '--name', 'x', '--grant', 'conn_alpha::/v1'],
      ['credentials', 'add', '--name', 'x', '--grant', 'conn_alpha:GET:/v1', '--deny-query', 'conn_beta:q'],
      ['credentials', 'add', '--name', 'x', '--grant', 'conn_alpha:GET:/v1', '--ttl', 'soon'],
      ['credentials', 'add', '--name', 'x', '--grant', 'conn_alpha:GET:/v1', '--ip-mode', 'sometimes'],
      ['credentials', 'add', '--grant', 'conn_alpha:GET:/v1'],
    ];
    for (const argv of cases) {
      const result = await cli(argv, env);
      assert.equal(result.code, 2, `${argv.join(' ')}: ${result.stderr}`);
      assert.match(oneLineError(result), /^relay: credentials add: /);
    }
    const unknownConnection = await cli(
      ['credentials', 'add', '--name', 'x', '--grant', 'conn_gamma:GET:/v1'],
      env,
    );
    assert.equal(unknownConnection.code, 1);
    assert.match(oneLineError(unknownConnection), /conn_gamma does not exist/);
    const badMethod = await cli(
      ['credentials', 'add', '--name', 'x', '--grant', 'conn_alpha:FETCH:/v1'],
      env,
    );
    assert.equal(badMethod.code, 1);
    assert.deepEqual(await cliJson(['credentials', 'list'], env), []);
  });

  it('revoke marks the credential revoked', async () => {
    const env = await withConnections();
    const issued = await cliJson(
      ['credentials', 'add', '--name', 'x', '--grant', 'conn_alpha:GET:/v1', '--ttl', '3600'],
      env,
    );
    const revoked = await cliJson(['credentials', 'revoke', issued.id], env);
    assert.equal(revoked.status, 'revoked');
    assert.ok(revoked.revoked_at);
    const human = await cli(['credentials', 'list'], env);
    assert.match(human.stdout, new RegExp(`${issued.id} .* revoked`));
  });

  it('revoking a recipient revokes every credential it holds', async () => {
    const env = await withConnections();
    const bot = await cliJson(['recipients', 'add', '--name', 'Build bot', '--kind', 'agent'], env);
    assert.match(bot.id, /^rcp_/);
    const ann = await cliJson(
      ['recipients', 'add', '--name', 'Ann', '--kind', 'human', '--email', 'Ann@Example.com'],
      env,
    );
    assert.equal(ann.email, 'ann@example.com');
    const a = await cliJson(
      [
        'credentials',
        'add',
        '--name',
        'a',
        '--recipient',
        bot.id,
        '--grant',
        'conn_alpha:GET:/v1',
        '--ttl',
        '3600',
      ],
      env,
    );
    const b = await cliJson(
      [
        'credentials',
        'add',
        '--name',
        'b',
        '--recipient',
        bot.id,
        '--grant',
        'conn_beta:GET:/v1',
        '--ttl',
        '3600',
      ],
      env,
    );
    const other = await cliJson(
      [
        'credentials',
        'add',
        '--name',
        'c',
        '--recipient',
        ann.id,
        '--grant',
        'conn_beta:GET:/v1',
        '--ttl',
        '3600',
      ],
      env,
    );
    assert.equal(other.ip_mode, 'confirm_new_ip');
    const mine = await cliJson(['credentials', 'list', '--recipient', bot.id], env);
    assert.deepEqual(mine.map((c: { id: string }) => c.id).sort(), [a.id, b.id].sort());

    const result = await cliJson(['recipients', 'revoke', bot.id], env);
    assert.equal(result.status, 'revoked');
    assert.deepEqual([...result.revoked_credentials].sort(), [a.id, b.id].sort());
    for (const id of [a.id, b.id])
      assert.equal((await cliJson(['credentials', 'get', id], env)).status, 'revoked');
    assert.equal((await cliJson(['credentials', 'get', other.id], env)).status, 'active');
    const refused = await cli(
      [
        'credentials',
        'add',
        '--name',
        'd',
        '--recipient',
        bot.id,
        '--grant',
        'conn_alpha:GET:/v1',
        '--ttl',
        '3600',
      ],
      env,
    );
    assert.equal(refused.code, 1);
    assert.match(oneLineError(refused), /is revoked/);
    const humanNoEmail = await cli(['recipients', 'add', '--name', 'Bob', '--kind', 'human'], env);
    assert.equal(humanNoEmail.code, 1);
    assert.match(oneLineError(humanNoEmail), /needs an email/);
    const list = await cliJson(['recipients', 'list'], env);
    assert.deepEqual(list.map((r: { status: string }) => r.status).sort(), ['active', 'revoked']);
  });

  it('never prints the upstream secret', () => {
    assert.equal(transcript.join('\n').includes(SECRET), false);
  });
});

describe('relay tokens', () => {
  it('adds, lists and revokes management tokens; provisioners need valid bounds', async () => {
    const { env } = await initialised();
    const viewer = await cliJson(['tokens', 'add', '--name', 'dash', '--role', 'viewer'], env);
    assert.match(viewer.token, /^rk_mgmt_/);
    assert.equal(viewer.role, 'viewer');
    const noBounds = await cli(['tokens', 'add', '--name', 'p', '--role', 'provisioner'], env);
    assert.equal(noBounds.code, 2);
    assert.match(oneLineError(noBounds), /needs --bounds-json/);
    const badBounds = await cli(
      ['tokens', 'add', '--name', 'p', '--role', 'provisioner', '--bounds-json', '{"connections":[]}'],
      env,
    );
    assert.equal(badBounds.code, 2);
    oneLineError(badBounds);
    const notJson = await cli(
      ['tokens', 'add', '--name', 'p', '--role', 'provisioner', '--bounds-json', '{'],
      env,
    );
    assert.equal(notJson.code, 2);
    assert.match(oneLineError(notJson), /not valid JSON/);
    const bounds = {
      connections: ['conn_alpha'],
      max_ttl_seconds: 3600,
      allowed_methods: ['GET'],
      allowed_paths: ['/v1/**'],
    };
    const prov = await cliJson(
      ['tokens', 'add', '--name', 'p', '--role', 'provisioner', '--bounds-json', JSON.stringify(bounds)],
      env,
    );
    assert.deepEqual(prov.bounds, bounds);
    const list = await cliJson(['tokens', 'list'], env);
    assert.equal(list.length, 3, 'the initial admin token and the two new ones');
    assert.equal(JSON.stringify(list).includes(viewer.token), false);
    const revoked = await cliJson(['tokens', 'revoke', viewer.id], env);
    assert.equal(revoked.status, 'revoked');
    const past = await cli(
      ['tokens', 'add', '--name', 'old', '--role', 'admin', '--expires-at', '2001-01-01T00:00:00Z'],
      env,
    );
    assert.equal(past.code, 1);
    oneLineError(past);
  });
});
