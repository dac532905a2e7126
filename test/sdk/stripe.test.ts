import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Stripe from 'stripe';
import { DIALECTS, skipFor, startTestRelay } from '../harness.ts';
import { assertCleanUpstream, scopedAccess, sendJson, startFakeUpstream } from './fake-upstream.ts';
import { pathPrefixingClient, type WireExchange } from './stripe-client.ts';

/**
 * The official `stripe` package, configured with an `rk_proxy_…` token as its API
 * key and pointed at Relay, works unchanged: list and create customers (form
 * bodies arrive intact) and a money-moving call outside the scope is refused.
 */

const REAL_KEY = 'sk_test_REALstripeKEY0123456789abcdefghijklmn';

const CUSTOMERS = [
  { id: 'cus_fake1', object: 'customer', email: 'one@example.com' },
  { id: 'cus_fake2', object: 'customer', email: 'two@example.com' },
];

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect), timeout: 30_000 }, async () => {
    const upstream = await startFakeUpstream({
      authorized: (r) => r.headers.authorization === `Bearer ${REAL_KEY}`,
      handle(request, res) {
        const url = new URL(request.url, 'http://fake.invalid');
        if (request.method === 'GET' && url.pathname === '/v1/customers') {
          const limit = Number(url.searchParams.get('limit') ?? '10');
          return sendJson(res, 200, {
            object: 'list',
            url: '/v1/customers',
            has_more: false,
            data: CUSTOMERS.slice(0, limit),
          });
        }
        if (request.method === 'POST' && url.pathname === '/v1/customers') {
          const form = new URLSearchParams(request.body);
          return sendJson(res, 200, {
            id: 'cus_created',
            object: 'customer',
            email: form.get('email'),
            name: form.get('name'),
            metadata: { team: form.get('metadata[team]') },
          });
        }
        sendJson(res, 404, {
          error: { type: 'invalid_request_error', message: `Unrecognized request URL (${request.method})` },
        });
      },
    });
    const relay = await startTestRelay(dialect);
    const access = await scopedAccess(
      relay,
      upstream,
      { id: 'conn_stripe', auth: { type: 'bearer', secret: REAL_KEY } },
      { methods: ['GET', 'POST'], paths: ['/v1/customers'] },
    );
    const proxy = new URL(relay.proxyUrl);
    const wire: WireExchange[] = [];
    const stripe = new Stripe(access.token, {
      host: proxy.hostname,
      port: proxy.port,
      protocol: 'http',
      httpClient: pathPrefixingClient(`/${access.connectionId}`, wire),
      maxNetworkRetries: 0,
      telemetry: false,
      timeout: 10_000,
    });

    it('lists customers through Relay with the real key as a Bearer token', async () => {
      const before = upstream.seen.length;
      const list = await stripe.customers.list({ limit: 2 });
      assert.deepEqual(
        list.data.map((c) => c.id),
        ['cus_fake1', 'cus_fake2'],
      );
      const request = upstream.seen[before];
      assert.equal(request?.method, 'GET');
      assert.equal(request?.url, '/v1/customers?limit=2');
      assert.equal(request?.headers.authorization, `Bearer ${REAL_KEY}`);
      assert.equal(wire.at(-1)?.path, `/${access.connectionId}/v1/customers?limit=2`);
      assertCleanUpstream(upstream, access.token);
    });

    it('creates a customer: the form body arrives byte for byte', async () => {
      const before = upstream.seen.length;
      const customer = await stripe.customers.create({
        email: 'ada+relay@example.com',
        name: 'Ada Lovelace',
        metadata: { team: 'R&D / ümlaut' },
      });
      assert.equal(customer.id, 'cus_created');
      assert.equal(customer.email, 'ada+relay@example.com');
      assert.equal(customer.name, 'Ada Lovelace');
      assert.deepEqual(customer.metadata, { team: 'R&D / ümlaut' });
      const request = upstream.seen[before];
      const sent = wire.at(-1);
      assert.equal(request?.method, 'POST');
      assert.equal(request?.url, '/v1/customers');
      assert.equal(request?.headers.authorization, `Bearer ${REAL_KEY}`);
      assert.equal(request?.headers['content-type'], 'application/x-www-form-urlencoded');
      assert.ok(sent !== undefined && sent.requestData !== '');
      assert.equal(request?.body, sent.requestData);
      assert.equal(request?.headers['content-length'], String(Buffer.byteLength(sent.requestData)));
      assertCleanUpstream(upstream, access.token);
    });

    it('refuses charges.create with 403 before the upstream (seen on the wire)', async () => {
      const before = upstream.seen.length;
      await stripe.charges.create({ amount: 2000, currency: 'usd', source: 'tok_visa' }).catch(() => {});
      const exchange = wire.at(-1);
      assert.equal(exchange?.method, 'POST');
      assert.equal(exchange?.path, `/${access.connectionId}/v1/charges`);
      assert.equal(exchange?.status, 403);
      assert.equal(exchange?.headers['relay-decision'], 'path_not_allowed');
      assert.equal(upstream.seen.length, before, 'the upstream must not be contacted');
    });

    it('charges.create outside the scope rejects with a StripePermissionError', async () => {
      // stripe-node treats any JSON body without an `error` member as success, whatever
      // the status: a refusal that lacks one resolves as if the charge had been made.
      await assert.rejects(
        stripe.charges.create({ amount: 2000, currency: 'usd', source: 'tok_visa' }),
        (error: unknown) => {
          assert.ok(error instanceof Stripe.errors.StripePermissionError, `got ${String(error)}`);
          assert.equal(error.statusCode, 403);
          assert.equal(error.headers?.['relay-decision'], 'path_not_allowed');
          return true;
        },
      );
    });
  });
}
