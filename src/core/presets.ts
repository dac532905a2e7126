import type { AuthType } from './model.ts';

/**
 * Vendor presets: what it takes to put a vendor's API behind Relay. Each names
 * the base URL, how the key is injected, headers the vendor requires, a
 * read-only scope to start from, and the endpoints the safety review treats as
 * sensitive (key management, administration) or money-moving.
 */
export interface Preset {
  readonly id: string;
  readonly name: string;
  readonly base_url: string;
  readonly auth: { readonly type: AuthType; readonly header_name?: string; readonly username?: string };
  /** Sent upstream when the caller did not send them (e.g. an API version pin). */
  readonly extra_headers: Readonly<Record<string, string>>;
  readonly read_only_scope: {
    readonly allowed_methods: readonly string[];
    readonly allowed_paths: readonly string[];
  };
  readonly sensitive_paths: readonly string[];
  readonly money_moving_paths: readonly string[];
  readonly docs: string;
}

const preset = (p: Preset): Preset => Object.freeze(p);

export const PRESETS: readonly Preset[] = [
  preset({
    id: 'openai',
    name: 'OpenAI',
    base_url: 'https://api.openai.com',
    auth: { type: 'bearer' },
    extra_headers: {},
    read_only_scope: { allowed_methods: ['GET'], allowed_paths: ['/v1/models', '/v1/models/*'] },
    sensitive_paths: ['/v1/organization/**', '/v1/projects/**', '/v1/files/**', '/v1/fine_tuning/**'],
    money_moving_paths: [],
    docs: 'SDK base URL: <relay>/<connection>/v1',
  }),
  preset({
    id: 'anthropic',
    name: 'Anthropic',
    base_url: 'https://api.anthropic.com',
    auth: { type: 'header', header_name: 'x-api-key' },
    extra_headers: { 'anthropic-version': '2023-06-01' },
    read_only_scope: { allowed_methods: ['GET'], allowed_paths: ['/v1/models', '/v1/models/*'] },
    sensitive_paths: ['/v1/organizations/**'],
    money_moving_paths: [],
    docs: 'SDK base URL: <relay>/<connection>',
  }),
  preset({
    id: 'github',
    name: 'GitHub',
    base_url: 'https://api.github.com',
    auth: { type: 'bearer' },
    extra_headers: { accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' },
    read_only_scope: { allowed_methods: ['GET'], allowed_paths: ['/repos/*/*', '/repos/*/*/**', '/user'] },
    sensitive_paths: [
      '/repos/*/*/keys/**',
      '/repos/*/*/hooks/**',
      '/repos/*/*/actions/secrets/**',
      '/repos/*/*/collaborators/**',
      '/orgs/*/members/**',
      '/orgs/*/hooks/**',
      '/user/keys/**',
      '/admin/**',
    ],
    money_moving_paths: [],
    docs: 'Octokit baseUrl: <relay>/<connection>',
  }),
  preset({
    id: 'stripe',
    name: 'Stripe',
    base_url: 'https://api.stripe.com',
    auth: { type: 'bearer' },
    extra_headers: {},
    read_only_scope: { allowed_methods: ['GET'], allowed_paths: ['/v1/**'] },
    sensitive_paths: ['/v1/webhook_endpoints/**', '/v1/accounts/**', '/v1/apps/secrets/**'],
    money_moving_paths: [
      '/v1/charges/**',
      '/v1/payment_intents/**',
      '/v1/payouts/**',
      '/v1/transfers/**',
      '/v1/refunds/**',
      '/v1/invoices/*/pay',
      '/v1/subscriptions/**',
      '/v1/treasury/**',
      '/v1/issuing/**',
    ],
    docs: 'stripe-node: point host/port at Relay and prefix paths with /<connection>',
  }),
  preset({
    id: 'cloudflare',
    name: 'Cloudflare',
    base_url: 'https://api.cloudflare.com/client/v4',
    auth: { type: 'bearer' },
    extra_headers: {},
    read_only_scope: {
      allowed_methods: ['GET'],
      allowed_paths: ['/zones', '/zones/*', '/zones/*/dns_records/**'],
    },
    sensitive_paths: ['/user/tokens/**', '/accounts/*/tokens/**', '/accounts/*/members/**', '/user/**'],
    money_moving_paths: ['/accounts/*/billing/**'],
    docs: 'A zone-scoped DNS credential: methods GET,POST,PATCH,DELETE on /zones/<zone>/dns_records/**',
  }),
  preset({
    id: 'resend',
    name: 'Resend',
    base_url: 'https://api.resend.com',
    auth: { type: 'bearer' },
    extra_headers: {},
    read_only_scope: { allowed_methods: ['GET'], allowed_paths: ['/emails/*', '/domains', '/domains/*'] },
    sensitive_paths: ['/api-keys/**', '/domains/**'],
    money_moving_paths: [],
    docs: 'Send-only: POST /emails',
  }),
  preset({
    id: 'elevenlabs',
    name: 'ElevenLabs',
    base_url: 'https://api.elevenlabs.io',
    auth: { type: 'header', header_name: 'xi-api-key' },
    extra_headers: {},
    read_only_scope: {
      allowed_methods: ['GET'],
      allowed_paths: ['/v1/voices', '/v1/voices/*', '/v1/models', '/v1/user'],
    },
    sensitive_paths: ['/v1/workspace/**', '/v1/user/**'],
    money_moving_paths: [],
    docs: 'Text to speech: POST /v1/text-to-speech/*',
  }),
  preset({
    id: 'hubspot',
    name: 'HubSpot',
    base_url: 'https://api.hubapi.com',
    auth: { type: 'bearer' },
    extra_headers: {},
    read_only_scope: {
      allowed_methods: ['GET'],
      allowed_paths: ['/crm/v3/objects/*', '/crm/v3/objects/*/*'],
    },
    sensitive_paths: ['/settings/**', '/oauth/**', '/webhooks/**', '/crm/v3/owners/**'],
    money_moving_paths: ['/commerce/**'],
    docs: 'Private-app token as bearer',
  }),
  preset({
    id: 'greenhouse',
    name: 'Greenhouse Harvest',
    base_url: 'https://harvest.greenhouse.io',
    auth: { type: 'basic' },
    extra_headers: {},
    read_only_scope: {
      allowed_methods: ['GET'],
      allowed_paths: ['/v1/jobs', '/v1/jobs/*', '/v1/applications', '/v1/applications/*'],
    },
    sensitive_paths: ['/v1/users/**', '/v1/user_roles/**', '/v1/candidates/*/anonymize'],
    money_moving_paths: [],
    docs: 'Harvest key as the basic-auth username (key-as-user); writes need the On-Behalf-Of header',
  }),
  preset({
    id: 'hibob',
    name: 'HiBob',
    base_url: 'https://api.hibob.com',
    auth: { type: 'basic' },
    extra_headers: {},
    read_only_scope: {
      allowed_methods: ['GET', 'POST'],
      allowed_paths: ['/v1/people/search', '/v1/people/*'],
    },
    sensitive_paths: ['/v1/people/*/employment/**', '/v1/payroll/**', '/v1/company/**'],
    money_moving_paths: ['/v1/payroll/**'],
    docs: 'Service user id as username (auth.username), its token as the secret. People search is a POST.',
  }),
];

export function findPreset(id: string): Preset | undefined {
  return PRESETS.find((p) => p.id === id);
}
