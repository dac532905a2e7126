import { ERRORS, type ErrorCode, type Problem } from '../core/errors.ts';

/**
 * The one mapping from an error code to an RFC 9457 problem document. Both
 * planes answer through it. A 5xx never carries an internal message: its detail
 * is the registry's title.
 */
export interface ProblemDocument {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: ErrorCode;
  readonly request_id: string;
  readonly errors?: Problem['errors'];
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
export const PROBLEM_TYPE_BASE = 'https://relay.dev/errors/';

export function problemDocument(problem: Problem, requestId: string): ProblemDocument {
  const def = ERRORS[problem.code];
  const detail = def.status >= 500 || problem.detail === undefined ? def.title : problem.detail;
  return {
    type: PROBLEM_TYPE_BASE + def.code,
    title: def.title,
    status: def.status,
    detail,
    code: problem.code,
    request_id: requestId,
    ...(problem.errors === undefined ? {} : { errors: problem.errors }),
  };
}
