import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { issueToken } from '../../src/core/tokens.ts';
import { DIALECTS, skipFor } from '../harness.ts';
import { startFakeUpstream } from '../proxy/fake-upstream.ts';
import {
  assertDecision,
  assertPassedThrough,
  fullGrant,
  type RawResponse,
  send,
  startProxyFixture,
} from '../proxy/proxy-helpers.ts';
import { listEvents, settle } from './helpers.ts';

/**
 * SPEC §8, issue 6 point 5: a canary credential is a decoy. Any use raises a
 * critical `canary_used` event (debounced: one per canary per minute) and gets
 * the very 401 an unknown token gets; the upstream is never contacted.
 */

/** The parts of an answer a caller can compare: status, headers and body, minus what differs per request. */
function comparable(res: RawResponse) {
  const headers = { ...res.headers };
  delete headers.date;
  delete headers['x-request-id'];
  const body = JSON.parse(res.text);
  delete body.request_id;
  return { status: res.status, headers, body };
}

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const upstream = await startFakeUpstream();
    const fx = await startProxyFixture(dialect, upstream);
    const { relay } = fx;
    await fx.connection({
      id: 'conn_canary',
      name: 'Canary API',
      base_url: upstream.url,
      auth: { type: 'bearer', secret: 'sk-canary-REAL-0001' },
    });
    const canary = await fx.credential({
      name: 'aws-prod-backup',
      canary: true,
      grants: [fullGrant('conn_canary')],
    });
    const ordinary = await fx.credential({ grants: [fullGrant('conn_canary')] });

    it('is issued like any credential, marked canary in its policies', async () => {
      const view = await relay.api('GET', `/api/v1/credentials/${canary.id}`);
      assert.equal(view.status, 200);
      assert.equal(view.body.policies.canary, true);
      assert.equal(view.body.status, 'active');
      const plain = await relay.api('GET', `/api/v1/credentials/${ordinary.id}`);
      assert.equal(plain.body.policies.canary, undefined);
    });

    it('any use gets exactly the 401 of an unknown token, and the upstream is never contacted', async () => {
      const before = upstream.hits;
      const caught = await fx.get('/conn_canary/v1/secrets?page=2', canary.token, {
        'user-agent': 'thief/1.0',
      });
      const unknown = await fx.get('/conn_canary/v1/secrets?page=2', issueToken('proxy').token, {
        'user-agent': 'thief/1.0',
      });
      assertDecision(caught, 401, 'unauthenticated');
      assert.deepEqual(comparable(caught), comparable(unknown));
      // Every method and location of the token alike.
      const posted = await send(relay.proxyUrl, {
        method: 'POST',
        path: '/conn_canary/v1/things',
        headers: { authorization: `Bearer ${canary.token}`, 'content-type': 'application/json' },
        body: '{"a":1}',
      });
      assertDecision(posted, 401, 'unauthenticated');
      assert.equal(upstream.hits, before, 'the upstream never saw a canary request');
      assertPassedThrough(await fx.get('/conn_canary/v1/secrets', ordinary.token));
    });

    it('raises one critical canary_used event per canary per minute, with who and where', async () => {
      await settle(relay);
      const events = (await listEvents(relay, 'kind=canary_used')).filter((e) => e.subject === canary.id);
      assert.equal(events.length, 1, 'two uses within the minute: one event');
      const [event] = events;
      assert.equal(event.severity, 'critical');
      assert.equal(event.status, 'open');
      assert.equal(event.detail.ip, '127.0.0.1');
      assert.equal(event.detail.user_agent, 'thief/1.0');
      assert.equal(event.detail.path, '/v1/secrets', 'the path, never the query');
      assert.equal(event.detail.connection_id, 'conn_canary');
      assert.equal(event.detail.credential_name, 'aws-prod-backup');
      assert.ok(!JSON.stringify(event).includes(canary.token));
      for (let i = 0; i < 20; i++)
        assertDecision(await fx.get('/conn_canary/v1/again', canary.token), 401, 'unauthenticated');
      await settle(relay);
      assert.equal(
        (await listEvents(relay, 'kind=canary_used')).filter((e) => e.subject === canary.id).length,
        1,
        'a flood of uses is still one event',
      );
      // Each canary has its own debounce.
      const second = await fx.credential({ canary: true, grants: [fullGrant('conn_canary')] });
      assertDecision(await fx.get('/conn_canary/v1/x', second.token), 401, 'unauthenticated');
      await settle(relay);
      assert.equal(
        (await listEvents(relay, 'kind=canary_used')).filter((e) => e.subject === second.id).length,
        1,
      );
    });
  });
}
