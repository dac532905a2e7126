import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, configurationDoc, loadConfig, SETTINGS } from '../../src/config.ts';
import { tempDir } from '../harness.ts';

const DOC = new URL('../../docs/configuration.md', import.meta.url);

describe('docs/configuration.md', () => {
  it('is exactly what src/config.ts generates', () => {
    const onDisk = readFileSync(DOC, 'utf8');
    assert.ok(
      onDisk === configurationDoc(),
      'docs/configuration.md is out of date: regenerate it with `relay config docs > docs/configuration.md`',
    );
  });

  it('documents every setting with its default', () => {
    const doc = configurationDoc();
    for (const s of SETTINGS) {
      assert.ok(doc.includes(`| \`${s.env}\` |`), `${s.env} is not documented`);
      assert.ok(s.doc.length > 10, `${s.env} needs a line of documentation`);
      assert.match(s.env, /^RELAY_[A-Z0-9_]+$/);
    }
  });
});

describe('loadConfig', () => {
  it('defaults: SQLite in ./relay-data, loopback API, ports 8080/8081, private upstreams refused', () => {
    const config = loadConfig({});
    assert.equal(config.dataDir, resolve('./relay-data'));
    assert.equal(config.databaseUrl, '');
    assert.equal(config.masterKey, '');
    assert.equal(config.masterKeyFile, resolve('./relay-data', 'master.key'));
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.apiHost, '127.0.0.1');
    assert.equal(config.proxyPort, 8080);
    assert.equal(config.apiPort, 8081);
    assert.equal(config.proxyEnabled, true);
    assert.equal(config.apiEnabled, true);
    assert.equal(config.allowPrivateUpstreams, false);
    assert.equal(config.maxRequestBodyBytes, 1048576);
    assert.equal(config.logLevel, 'info');
    assert.ok(Object.isFrozen(config));
  });

  it('an integer with a ceiling accepts it: RELAY_AUDIT_WORKER_NICE 0-19', () => {
    assert.equal(loadConfig({ RELAY_AUDIT_WORKER_NICE: '19' }).auditWorkerNice, 19);
    assert.equal(loadConfig({ RELAY_AUDIT_WORKER_NICE: '0' }).auditWorkerNice, 0);
    assert.equal(loadConfig({}).auditWorkerNice, 10);
  });

  it('every documented default is accepted as a value of its own type', () => {
    const env = Object.fromEntries(SETTINGS.map((s) => [s.env, s.default]));
    assert.doesNotThrow(() => loadConfig(env));
  });

  it('the environment overrides defaults, with typed values', () => {
    const config = loadConfig({
      RELAY_DATA_DIR: '/srv/relay',
      RELAY_API_PORT: '0',
      RELAY_PROXY_PORT: '9090',
      RELAY_ALLOW_PRIVATE_UPSTREAMS: 'yes',
      RELAY_PROXY_ENABLED: 'off',
      RELAY_LOG_LEVEL: 'silent',
      RELAY_MAX_REQUEST_BODY_BYTES: '2048',
      RELAY_MASTER_KEY_FILE: '/etc/relay/key',
    });
    assert.equal(config.dataDir, '/srv/relay');
    assert.equal(config.masterKeyFile, '/etc/relay/key');
    assert.equal(config.apiPort, 0);
    assert.equal(config.proxyPort, 9090);
    assert.equal(config.allowPrivateUpstreams, true);
    assert.equal(config.proxyEnabled, false);
    assert.equal(config.logLevel, 'silent');
    assert.equal(config.maxRequestBodyBytes, 2048);
  });

  it('reads RELAY_CONFIG_FILE; the environment wins over the file', () => {
    const file = join(tempDir(), 'relay.json');
    writeFileSync(
      file,
      JSON.stringify({
        RELAY_API_PORT: 7001,
        RELAY_PROXY_PORT: '7000',
        RELAY_ALLOW_PRIVATE_UPSTREAMS: true,
        RELAY_API_HOST: '0.0.0.0',
      }),
    );
    const fromFile = loadConfig({ RELAY_CONFIG_FILE: file });
    assert.equal(fromFile.apiPort, 7001);
    assert.equal(fromFile.proxyPort, 7000);
    assert.equal(fromFile.allowPrivateUpstreams, true);
    assert.equal(fromFile.apiHost, '0.0.0.0');
    const both = loadConfig({ RELAY_CONFIG_FILE: file, RELAY_API_PORT: '7501', RELAY_API_HOST: '127.0.0.1' });
    assert.equal(both.apiPort, 7501);
    assert.equal(both.apiHost, '127.0.0.1');
    assert.equal(both.proxyPort, 7000, 'settings the environment does not name still come from the file');
  });

  it('refuses an unknown key in the config file, naming it', () => {
    const file = join(tempDir(), 'relay.json');
    writeFileSync(file, JSON.stringify({ RELAY_API_PORT: 7001, RELAY_API_PROT: 7002 }));
    assert.throws(
      () => loadConfig({ RELAY_CONFIG_FILE: file }),
      (error: Error) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /RELAY_API_PROT/);
        return true;
      },
    );
  });

  it('refuses a config file that is missing, not JSON, or not an object', () => {
    const dir = tempDir();
    const write = (name: string, body: string) => {
      const path = join(dir, name);
      writeFileSync(path, body);
      return path;
    };
    for (const file of [join(dir, 'absent.json'), write('bad.json', '{nope'), write('list.json', '[]')]) {
      assert.throws(() => loadConfig({ RELAY_CONFIG_FILE: file }), ConfigError, file);
    }
  });

  for (const [name, value] of [
    ['RELAY_API_PORT', '70000'],
    ['RELAY_API_PORT', '-1'],
    ['RELAY_PROXY_PORT', 'http'],
    ['RELAY_PROXY_PORT', '80.5'],
    ['RELAY_PROXY_PORT', '8080abc'],
    ['RELAY_MAX_REQUEST_BODY_BYTES', '-5'],
    ['RELAY_ALLOW_PRIVATE_UPSTREAMS', 'maybe'],
    ['RELAY_LOG_LEVEL', 'loud'],
    ['RELAY_AUDIT_WORKER_NICE', '20'],
    ['RELAY_AUDIT_WORKER_NICE', '-5'],
  ] as const) {
    it(`refuses ${name}=${JSON.stringify(value)} with a message naming the variable`, () => {
      assert.throws(
        () => loadConfig({ [name]: value }),
        (error: Error) => {
          assert.ok(error instanceof ConfigError);
          assert.ok(error.message.includes(name), error.message);
          return true;
        },
      );
    });
  }

  it('refuses a bad port from the config file, naming the variable', () => {
    const file = join(tempDir(), 'relay.json');
    writeFileSync(file, JSON.stringify({ RELAY_PROXY_PORT: 123456 }));
    assert.throws(() => loadConfig({ RELAY_CONFIG_FILE: file }), /RELAY_PROXY_PORT/);
  });

  for (const value of ['', ' ']) {
    it(`an empty RELAY_API_PORT (${JSON.stringify(value)}) is refused or means the default, never port 0`, () => {
      let port: number | undefined;
      try {
        port = loadConfig({ RELAY_API_PORT: value }).apiPort;
      } catch (error) {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /RELAY_API_PORT/);
        return;
      }
      assert.equal(port, 8081, 'a blank port silently became a random port');
    });
  }
});
