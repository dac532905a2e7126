import type { Grant } from './model.ts';

/**
 * The copy-pasteable text handed to an agent (Codex, Claude Code, Cursor, …)
 * with a new credential: where to call, how to authenticate, what is allowed,
 * and the rules. It names the env var, never the token itself.
 */
export interface AgentPromptInput {
  readonly credentialName: string;
  readonly proxyBaseUrl: string;
  readonly grants: readonly Grant[];
  readonly expiresAt: string | null;
  readonly envVar?: string;
}

export function agentPrompt(input: AgentPromptInput): string {
  const envVar = input.envVar ?? 'RELAY_TOKEN';
  const base = input.proxyBaseUrl.replace(/\/+$/, '');
  const first = input.grants[0];
  const exampleMethod = first?.allowed_methods[0] ?? 'GET';
  const examplePath = (first?.allowed_paths[0] ?? '/').replace(/\/\*\*$/, '').replace(/\*/g, 'ID') || '/';
  const lines = [
    `You have scoped API access through Relay (credential "${input.credentialName}").`,
    '',
    `Authentication: send the header "Authorization: Bearer $${envVar}". The token is in the environment variable ${envVar}.`,
    `Base URL: ${base}/<connection id>/<upstream path>`,
    input.expiresAt === null ? 'Expiry: none set.' : `Expiry: ${input.expiresAt}.`,
    '',
    'What you may call (anything else is refused with 403 before it reaches the API):',
    ...input.grants.map(
      (g) =>
        `- ${g.connection_id}: methods ${g.allowed_methods.join(', ')}; paths ${g.allowed_paths.join(', ')}` +
        (g.deny_query_params.length > 0
          ? `; never the query parameters ${g.deny_query_params.join(', ')}`
          : ''),
    ),
    '',
    'Example:',
    `curl -X ${exampleMethod} -H "Authorization: Bearer $${envVar}" "${base}/${first?.connection_id ?? 'conn_id'}${examplePath}"`,
    '',
    'SDKs: configure the vendor SDK with base URL ' +
      `${base}/${first?.connection_id ?? 'conn_id'} and use $${envVar} as its API key; Relay swaps in the real key.`,
    '',
    'Rules:',
    `- Never print, log, echo or commit the token or the value of $${envVar}.`,
    '- Stay within the allowed methods and paths; do not try to work around a refusal.',
    "- A 423 Locked answer means a new network needs the key holder's confirmation by e-mail: stop and tell the user.",
    '- Responses with a Relay-Decision header come from Relay, not from the upstream API.',
  ];
  return lines.join('\n');
}
