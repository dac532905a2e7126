import { randomBase62 } from '../core/base62.ts';

/** Request ids are random, not sequential: they must not reveal traffic volume. */
export function newRequestId(): string {
  return `req_${randomBase62(16)}`;
}
