import { type TSchema, Type } from '@sinclair/typebox';
import { CONNECTION_ID_PATTERN } from '../../core/ids.ts';
import {
  AUTH_TYPES,
  IP_MODES,
  MANAGEMENT_ROLES,
  RECIPIENT_KINDS,
  SECRET_SCANNING_MODES,
} from '../../core/model.ts';

/**
 * Every request and response shape of the management API, as JSON Schema
 * (TypeBox). Fastify validates each route against these, and the OpenAPI
 * document is generated from the very same objects.
 */

const literalUnion = <T extends readonly string[]>(values: T) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values] });
const strict = { additionalProperties: false } as const;

export const Name = Type.String({ minLength: 1, maxLength: 200 });
export const DateTime = Type.String({ format: 'date-time' });
const NullableDateTime = Type.Union([DateTime, Type.Null()]);
const Id = Type.String({ minLength: 1, maxLength: 100 });

export const IdParams = Type.Object({ id: Id }, strict);

export const ListQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 500 })),
  },
  strict,
);

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String(),
    request_id: Type.String(),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  { $id: 'Problem' },
);

const Country = Type.String({ minLength: 2, maxLength: 2, description: 'ISO 3166-1 alpha-2 country code' });
export const GeoRulesSchema = Type.Object(
  {
    allow: Type.Optional(Type.Array(Country, { maxItems: 250 })),
    block: Type.Optional(Type.Array(Country, { maxItems: 250 })),
  },
  {
    additionalProperties: false,
    description: 'allow: only these countries; block: all but these (not both).',
  },
);
const Fingerprint = Type.String({
  minLength: 64,
  maxLength: 95,
  description: 'SHA-256 of the client certificate (hex, colons allowed)',
});

const ConnectionOptions = Type.Object(
  {
    geo: Type.Optional(GeoRulesSchema),
    log_query_strings: Type.Optional(Type.Boolean()),
    secret_scanning: Type.Optional(literalUnion(SECRET_SCANNING_MODES)),
    allow_insecure_upstream: Type.Optional(Type.Boolean()),
  },
  strict,
);

const authFields = {
  username: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
  header_name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  query_param: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  token_url: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
  client_id: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
  scope: Type.Optional(Type.String({ maxLength: 2000 })),
};
const Secret = Type.String({ minLength: 1, maxLength: 16384 });

export const ConnectionCreate = Type.Object(
  {
    id: Type.Optional(Type.String({ pattern: CONNECTION_ID_PATTERN })),
    name: Name,
    base_url: Type.Optional(
      Type.String({ minLength: 1, maxLength: 2000, description: 'Required unless a preset gives it.' }),
    ),
    auth: Type.Object(
      { type: Type.Optional(literalUnion(AUTH_TYPES)), secret: Secret, ...authFields },
      { ...strict, description: 'type is required unless a preset gives it.' },
    ),
    preset: Type.Optional(Type.String({ maxLength: 100 })),
    options: Type.Optional(ConnectionOptions),
  },
  strict,
);

export const ConnectionUpdate = Type.Object(
  {
    name: Type.Optional(Name),
    base_url: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
    auth: Type.Optional(
      Type.Object({ type: literalUnion(AUTH_TYPES), secret: Type.Optional(Secret), ...authFields }, strict),
    ),
    options: Type.Optional(ConnectionOptions),
  },
  { ...strict, minProperties: 1 },
);

export const SecretReplace = Type.Object({ secret: Secret }, strict);

export const ConnectionView = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    base_url: Type.String(),
    auth: Type.Object({ type: Type.String(), ...authFields }),
    secret_last4: Type.String({
      description:
        'Last four characters of the upstream key (empty for keys of 8 characters or fewer). The key itself is never returned.',
    }),
    preset: Type.Union([Type.String(), Type.Null()]),
    options: Type.Object({
      log_query_strings: Type.Boolean(),
      secret_scanning: Type.String(),
      allow_insecure_upstream: Type.Boolean(),
    }),
    created_at: DateTime,
    updated_at: DateTime,
  },
  { $id: 'Connection' },
);

export const RecipientCreate = Type.Object(
  {
    name: Name,
    kind: literalUnion(RECIPIENT_KINDS),
    email: Type.Optional(Type.String({ format: 'email', maxLength: 320 })),
  },
  strict,
);

export const RecipientView = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    kind: Type.String(),
    email: Type.Union([Type.String(), Type.Null()]),
    status: Type.String(),
    created_at: DateTime,
    revoked_at: NullableDateTime,
  },
  { $id: 'Recipient' },
);

const Method = Type.String({ minLength: 1, maxLength: 10 });
const PathPattern = Type.String({ minLength: 1, maxLength: 1000 });
const ParamName = Type.String({ minLength: 1, maxLength: 200 });

export const GrantInput = Type.Object(
  {
    connection_id: Type.String({ minLength: 1, maxLength: 100 }),
    allowed_methods: Type.Array(Method, { minItems: 1, maxItems: 10 }),
    allowed_paths: Type.Array(PathPattern, { minItems: 1, maxItems: 100 }),
    deny_query_params: Type.Optional(Type.Array(ParamName, { maxItems: 100 })),
  },
  strict,
);

const Cidr = Type.String({ minLength: 1, maxLength: 60 });

export const CredentialCreate = Type.Object(
  {
    name: Name,
    recipient_id: Type.Optional(Id),
    grants: Type.Array(GrantInput, { minItems: 1, maxItems: 50 }),
    ttl_seconds: Type.Optional(Type.Integer({ minimum: 1 })),
    expires_at: Type.Optional(DateTime),
    ip_mode: Type.Optional(literalUnion(IP_MODES)),
    ip_allowlist: Type.Optional(Type.Array(Cidr, { maxItems: 100 })),
    rate_limit_profile: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    acknowledge_risks: Type.Optional(Type.Boolean()),
    share_link: Type.Optional(
      Type.Object({ ttl_seconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 2_592_000 })) }, strict),
    ),
    geo: Type.Optional(GeoRulesSchema),
    client_cert_fingerprints: Type.Optional(Type.Array(Fingerprint, { maxItems: 20 })),
    mtls_required: Type.Optional(Type.Boolean()),
    canary: Type.Optional(
      Type.Boolean({
        description:
          'A decoy: any use raises a critical canary_used security event and is answered 401 like an unknown token; the upstream is never contacted.',
      }),
    ),
  },
  strict,
);

export const DelegatedCredentialCreate = Type.Object(
  {
    connection_id: Type.String({ minLength: 1, maxLength: 100 }),
    name: Name,
    allowed_methods: Type.Array(Method, { minItems: 1, maxItems: 10 }),
    allowed_paths: Type.Array(PathPattern, { minItems: 1, maxItems: 100 }),
    deny_query_params: Type.Optional(Type.Array(ParamName, { maxItems: 100 })),
    ttl_seconds: Type.Integer({ minimum: 1 }),
    acknowledge_risks: Type.Optional(Type.Boolean()),
  },
  strict,
);

const GrantView = Type.Object({
  connection_id: Type.String(),
  allowed_methods: Type.Array(Type.String()),
  allowed_paths: Type.Array(Type.String()),
  deny_query_params: Type.Array(Type.String()),
});

const Finding = Type.Object({ severity: Type.String(), code: Type.String(), message: Type.String() });

const credentialFields = {
  id: Type.String(),
  name: Type.String(),
  recipient_id: Type.Union([Type.String(), Type.Null()]),
  token_prefix: Type.String(),
  status: Type.String({ description: 'active, expired or revoked' }),
  grants: Type.Array(GrantView),
  expires_at: NullableDateTime,
  ip_mode: Type.String(),
  ip_allowlist: Type.Array(Type.String()),
  rate_limit_profile: Type.Union([Type.String(), Type.Null()]),
  review: Type.Object({ findings: Type.Array(Finding) }),
  policies: Type.Object({
    geo: Type.Optional(
      Type.Object({
        allow: Type.Optional(Type.Array(Type.String())),
        block: Type.Optional(Type.Array(Type.String())),
      }),
    ),
    client_cert_fingerprints: Type.Optional(Type.Array(Type.String())),
    mtls_required: Type.Optional(Type.Boolean()),
    canary: Type.Optional(Type.Boolean()),
  }),
  created_by: Type.String(),
  created_at: DateTime,
  revoked_at: NullableDateTime,
  last_used_at: NullableDateTime,
};

export const CredentialView = Type.Object(credentialFields, { $id: 'Credential' });
export const IssuedCredentialView = Type.Object(
  {
    ...credentialFields,
    token: Type.Union([Type.String(), Type.Null()], {
      description: 'The credential itself. Shown once, never again; null when a share link was asked for.',
    }),
    share_url: Type.Optional(
      Type.String({ description: 'One-time link that reveals the token to its holder.' }),
    ),
    share_expires_at: Type.Optional(DateTime),
    agent_prompt: Type.String(),
  },
  { $id: 'IssuedCredential' },
);

export const ApiScope = Type.Object(
  { methods: Type.Array(Method, { minItems: 1 }), paths: Type.Array(PathPattern, { minItems: 1 }) },
  strict,
);
export const Bounds = Type.Object(
  {
    connections: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
    max_ttl_seconds: Type.Integer({ minimum: 1 }),
    allowed_methods: Type.Array(Method, { minItems: 1 }),
    allowed_paths: Type.Array(PathPattern, { minItems: 1 }),
  },
  strict,
);

export const ManagementTokenCreate = Type.Object(
  {
    name: Name,
    role: literalUnion(MANAGEMENT_ROLES),
    expires_at: Type.Optional(DateTime),
    ip_allowlist: Type.Optional(Type.Array(Cidr, { maxItems: 100 })),
    api_scope: Type.Optional(ApiScope),
    bounds: Type.Optional(Bounds),
    client_cert_fingerprints: Type.Optional(Type.Array(Fingerprint, { maxItems: 20 })),
    mtls_required: Type.Optional(Type.Boolean()),
    rate_limit_profile: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  },
  strict,
);

const managementTokenFields = {
  id: Type.String(),
  name: Type.String(),
  role: Type.String(),
  token_prefix: Type.String(),
  status: Type.String(),
  expires_at: NullableDateTime,
  ip_allowlist: Type.Array(Type.String()),
  api_scope: Type.Union([
    Type.Object({ methods: Type.Array(Type.String()), paths: Type.Array(Type.String()) }),
    Type.Null(),
  ]),
  bounds: Type.Union([
    Type.Object({
      connections: Type.Array(Type.String()),
      max_ttl_seconds: Type.Integer(),
      allowed_methods: Type.Array(Type.String()),
      allowed_paths: Type.Array(Type.String()),
    }),
    Type.Null(),
  ]),
  created_at: DateTime,
  revoked_at: NullableDateTime,
  last_used_at: NullableDateTime,
  policies: Type.Object({
    client_cert_fingerprints: Type.Optional(Type.Array(Type.String())),
    mtls_required: Type.Optional(Type.Boolean()),
    rate_limit_profile: Type.Optional(Type.String()),
  }),
  previous_valid_until: Type.Union([DateTime, Type.Null()], {
    description: 'After a rotation: until when the previous secret is still accepted.',
  }),
};
export const ManagementTokenView = Type.Object(managementTokenFields, { $id: 'ManagementToken' });
export const IssuedManagementTokenView = Type.Object(
  { ...managementTokenFields, token: Type.String({ description: 'Shown once.' }) },
  { $id: 'IssuedManagementToken' },
);

const RateProfileSchema = Type.Object(
  {
    per_minute: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
    burst: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
  },
  { additionalProperties: false },
);
const RateProfiles = Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$' }), RateProfileSchema);

export const WorkspaceSettings = Type.Object({
  require_2fa: Type.Boolean(),
  audit_retention_days: Type.Integer(),
  default_rate_limit_profile: Type.Union([Type.String(), Type.Null()]),
  default_ip_mode: Type.String(),
  ip_allowlist: Type.Optional(Type.Array(Type.String())),
  geo: Type.Optional(
    Type.Object({
      allow: Type.Optional(Type.Array(Type.String())),
      block: Type.Optional(Type.Array(Type.String())),
    }),
  ),
  rate_limit_profiles: Type.Optional(
    Type.Record(Type.String(), Type.Object({ per_minute: Type.Integer(), burst: Type.Integer() })),
  ),
  alert_emails: Type.Optional(Type.Array(Type.String())),
  // The signing secret is deliberately absent: the serializer drops what the schema does not name.
  security_webhook_url: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  lockdown: Type.Optional(
    Type.Object(
      {
        locked: Type.Boolean(),
        reason: Type.String(),
        locked_at: DateTime,
        event_ids: Type.Array(Type.String()),
        lifted_at: NullableDateTime,
        lifted_by: Type.Union([Type.String(), Type.Null()]),
      },
      { description: 'Auto-lockdown: while locked, the proxy refuses every call (403 workspace_locked).' },
    ),
  ),
});
export const WorkspaceView = Type.Object(
  { id: Type.String(), name: Type.String(), settings: WorkspaceSettings, created_at: DateTime },
  { $id: 'Workspace' },
);
export const WorkspacePatch = Type.Object(
  {
    settings: Type.Object(
      {
        require_2fa: Type.Optional(Type.Boolean()),
        audit_retention_days: Type.Optional(Type.Integer()),
        default_rate_limit_profile: Type.Optional(
          Type.Union([Type.String({ minLength: 1, maxLength: 100 }), Type.Null()]),
        ),
        default_ip_mode: Type.Optional(literalUnion(IP_MODES)),
        ip_allowlist: Type.Optional(Type.Array(Cidr, { maxItems: 100 })),
        geo: Type.Optional(GeoRulesSchema),
        rate_limit_profiles: Type.Optional(RateProfiles),
        alert_emails: Type.Optional(
          Type.Array(Type.String({ format: 'email', maxLength: 320 }), {
            maxItems: 20,
            uniqueItems: true,
            description: 'Mailed on every high or critical security event and on lockdown.',
          }),
        ),
      },
      { ...strict, minProperties: 1 },
    ),
  },
  strict,
);

export const AdminAuditView = Type.Object(
  {
    id: Type.String(),
    at: DateTime,
    actor: Type.String(),
    action: Type.String(),
    subject: Type.String(),
    metadata: Type.Record(Type.String(), Type.Unknown()),
    ip: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'AdminAuditEvent' },
);

export function pageOf<T extends TSchema>(item: T) {
  return Type.Object({ data: Type.Array(item), next_cursor: Type.Union([Type.String(), Type.Null()]) });
}

export const PresetView = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    base_url: Type.String(),
    auth: Type.Object({
      type: Type.String(),
      header_name: Type.Optional(Type.String()),
      username: Type.Optional(Type.String()),
    }),
    extra_headers: Type.Record(Type.String(), Type.String()),
    read_only_scope: Type.Object({
      allowed_methods: Type.Array(Type.String()),
      allowed_paths: Type.Array(Type.String()),
    }),
    sensitive_paths: Type.Array(Type.String()),
    money_moving_paths: Type.Array(Type.String()),
    docs: Type.String(),
  },
  { $id: 'Preset' },
);

export const TokenRotate = Type.Object(
  {
    grace_period_seconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 2_592_000,
        default: 3600,
        description: 'How long the old secret keeps working (default 1 hour; 0 = stops at once).',
      }),
    ),
  },
  strict,
);

export const ApiKeyCreate = Type.Object(
  {
    name: Name,
    expires_at: Type.Optional(DateTime),
    scopes: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 50 }), { maxItems: 50 })),
  },
  strict,
);

const apiKeyFields = {
  id: Type.String(),
  name: Type.String(),
  key_prefix: Type.String(),
  scopes: Type.Array(Type.String()),
  created_at: DateTime,
  expires_at: NullableDateTime,
  last_used_at: NullableDateTime,
};
export const ApiKeyView = Type.Object(apiKeyFields, { $id: 'ApiKey' });
export const IssuedApiKeyView = Type.Object(
  { ...apiKeyFields, key: Type.String({ description: 'The full key. Returned only here, once.' }) },
  { $id: 'IssuedApiKey' },
);
