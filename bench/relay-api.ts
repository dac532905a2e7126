import { request } from 'undici';

export interface ApiResponse {
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
}

/** A JSON call to Relay's management API with an admin token. */
export async function callApi(
  apiOrigin: string,
  token: string,
  method: 'GET' | 'POST' | 'PATCH',
  path: string,
  body?: unknown,
): Promise<ApiResponse> {
  const response = await request(new URL(path, apiOrigin), {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? null : JSON.stringify(body),
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  const text = await response.body.text();
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: callers report `text`.
  }
  return { status: response.statusCode, body: parsed, text };
}

/** Like callApi, but waits out connection refusals for a while (a listener may still be starting). */
export async function callApiWhenUp(
  apiOrigin: string,
  token: string,
  method: 'GET' | 'POST' | 'PATCH',
  path: string,
  body: unknown,
  timeoutMs: number,
): Promise<ApiResponse> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await callApi(apiOrigin, token, method, path, body);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code !== 'ECONNREFUSED' || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

export function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}
