import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

type AddFormats = (ajv: Ajv) => Ajv;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ??
  addFormatsModule) as unknown as AddFormats;

/**
 * Two validators: bodies are checked strictly (no type coercion, unknown fields
 * refused by `additionalProperties: false`, nothing removed silently); query
 * strings and path parameters are text by nature and are coerced.
 */
function makeAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    coerceTypes: coerce ? 'array' : false,
    useDefaults: true,
    removeAdditional: false,
    strict: false,
  });
  addFormats(ajv);
  return ajv;
}

const bodyAjv = makeAjv(false);
const textAjv = makeAjv(true);

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  const ajv = httpPart === 'body' ? bodyAjv : textAjv;
  return ajv.compile(schema as object) as ValidateFunction;
};

export interface FieldError {
  readonly path: string;
  readonly message: string;
}

interface AjvLikeError {
  readonly instancePath?: string;
  readonly message?: string;
  readonly keyword?: string;
  readonly params?: Record<string, unknown>;
}

/** Turns Ajv's errors into `[{path, message}]` with JSON-pointer paths a person can follow. */
export function fieldErrors(errors: readonly AjvLikeError[], part: string): FieldError[] {
  return errors.map((e) => {
    let path = e.instancePath ?? '';
    if (e.keyword === 'additionalProperties' && typeof e.params?.additionalProperty === 'string') {
      path = `${path}/${e.params.additionalProperty}`;
      return { path: `${part}${path}`, message: 'is not a known field' };
    }
    if (e.keyword === 'required' && typeof e.params?.missingProperty === 'string') {
      return { path: `${part}${path}/${e.params.missingProperty}`, message: 'is required' };
    }
    return { path: `${part}${path}`, message: e.message ?? 'is invalid' };
  });
}
