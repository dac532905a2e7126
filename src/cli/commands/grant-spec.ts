import type { GrantInput } from '../../services/credentials.ts';
import { UsageError } from '../errors.ts';

/**
 * `--grant conn_id:GET,POST:/v1/**,/v2/*` (connection : methods : paths) and
 * `--deny-query conn_id:param`. Paths are everything after the second colon, so
 * a path may itself hold a colon (`/v1/items:batch`).
 */
const GRANT_SHAPE = 'conn_id:METHOD[,METHOD...]:/path[,/path...]';

const splitList = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

export function parseGrant(spec: string): GrantInput {
  const first = spec.indexOf(':');
  const second = first < 0 ? -1 : spec.indexOf(':', first + 1);
  if (first <= 0 || second < 0) throw new UsageError(`--grant "${spec}" must look like ${GRANT_SHAPE}`);
  const methods = splitList(spec.slice(first + 1, second));
  const paths = splitList(spec.slice(second + 1));
  if (methods.length === 0 || paths.length === 0)
    throw new UsageError(`--grant "${spec}" must name at least one method and one path (${GRANT_SHAPE})`);
  return { connection_id: spec.slice(0, first).trim(), allowed_methods: methods, allowed_paths: paths };
}

export function parseGrants(grantSpecs: readonly string[], denySpecs: readonly string[]): GrantInput[] {
  if (grantSpecs.length === 0) throw new UsageError(`at least one --grant is required (${GRANT_SHAPE})`);
  const grants = grantSpecs.map(parseGrant);
  const denied = new Map<string, string[]>();
  for (const spec of denySpecs) {
    const at = spec.indexOf(':');
    const connection = spec.slice(0, at).trim();
    const param = spec.slice(at + 1).trim();
    if (at <= 0 || param === '') throw new UsageError(`--deny-query "${spec}" must look like conn_id:param`);
    if (!grants.some((g) => g.connection_id === connection))
      throw new UsageError(`--deny-query "${spec}": no --grant names connection ${connection}`);
    denied.set(connection, [...(denied.get(connection) ?? []), param]);
  }
  return grants.map((g) => {
    const params = denied.get(g.connection_id);
    return params === undefined ? g : { ...g, deny_query_params: params };
  });
}
