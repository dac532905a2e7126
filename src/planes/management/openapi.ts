import type { FastifySchema } from 'fastify';
import { SETTINGS } from '../../config.ts';

/**
 * Builds the OpenAPI 3.1 document from the routes as they are registered, from
 * the very schemas Fastify validates with: the document cannot drift from the API.
 */
export interface RouteRecord {
  readonly method: string;
  readonly url: string;
  readonly schema: FastifySchema | undefined;
  readonly access: string;
}

type JsonObject = Record<string, unknown>;

/** JSON Schema without TypeBox's symbol keys and `$id`s, inlined. */
function plain(schema: unknown): JsonObject {
  const copy = JSON.parse(JSON.stringify(schema)) as JsonObject;
  delete copy.$id;
  return copy;
}

function parametersOf(schema: FastifySchema | undefined): JsonObject[] {
  const out: JsonObject[] = [];
  const add = (part: unknown, where: 'path' | 'query') => {
    const props = (part as { properties?: Record<string, unknown>; required?: string[] } | undefined)
      ?.properties;
    const required = new Set((part as { required?: string[] } | undefined)?.required ?? []);
    for (const [name, s] of Object.entries(props ?? {})) {
      out.push({ name, in: where, required: where === 'path' || required.has(name), schema: plain(s) });
    }
  };
  add(schema?.params, 'path');
  add(schema?.querystring, 'query');
  return out;
}

export function openApiDocument(routes: readonly RouteRecord[], version: string): JsonObject {
  const paths: Record<string, JsonObject> = {};
  for (const route of routes) {
    if (!route.url.startsWith('/api/v1/')) continue;
    const path = route.url.replace(/:([A-Za-z_]+)/g, '{$1}');
    const responses: JsonObject = {};
    for (const [status, s] of Object.entries((route.schema?.response ?? {}) as Record<string, unknown>)) {
      responses[status] = {
        description: `HTTP ${status}`,
        content: { 'application/json': { schema: plain(s) } },
      };
    }
    responses.default = {
      description: 'Error (RFC 9457 problem details)',
      content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
    };
    const operation: JsonObject = {
      summary: (route.schema as { summary?: string } | undefined)?.summary,
      tags: (route.schema as { tags?: string[] } | undefined)?.tags,
      'x-relay-access': route.access,
      parameters: parametersOf(route.schema),
      responses,
      ...(route.access === 'public' ? { security: [] } : {}),
    };
    if (route.schema?.body) {
      operation.requestBody = {
        required: true,
        content: { 'application/json': { schema: plain(route.schema.body) } },
      };
    }
    paths[path] = { ...(paths[path] ?? {}), [route.method.toLowerCase()]: operation };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Relay management API',
      version,
      description: `Relay management API. Settings: ${SETTINGS.length} documented in docs/configuration.md.`,
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }, { apiKey: [] }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'A management token, rk_mgmt_…' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      },
      schemas: {
        Problem: {
          type: 'object',
          required: ['type', 'title', 'status', 'detail', 'code', 'request_id'],
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            code: { type: 'string' },
            request_id: { type: 'string' },
            errors: {
              type: 'array',
              items: {
                type: 'object',
                properties: { path: { type: 'string' }, message: { type: 'string' } },
              },
            },
          },
        },
      },
    },
    paths,
  };
}
