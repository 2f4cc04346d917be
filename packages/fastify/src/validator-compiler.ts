// Request validation that keeps JSON bodies as they were sent: Ajv coerces query strings, path parameters
// and headers (they arrive as text), never bodies; and every string must be text a database can keep.

import { createRequire } from 'node:module';
import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify';

const require = createRequire(import.meta.url);
// CommonJS packages with `exports.default`: required, not imported, so the types and the value agree.
const Ajv = require('ajv') as typeof import('ajv').default;
const addFormats = require('ajv-formats') as typeof import('ajv-formats').default;

/** Options of {@link validatorCompiler}. */
export interface ValidatorCompilerOptions {
  /**
   * Accept strings with NUL (U+0000). PostgreSQL `text` and `jsonb` cannot store it (error 22021), so by
   * default a NUL anywhere in a body, query string or parameter, in a value or a member name, is a 400.
   * @default false
   */
  allowNul?: boolean;
}

type ValidationIssue = FastifySchemaValidationError & { message: string };

type Validate = ((data: unknown) => boolean) & { errors?: FastifySchemaValidationError[] | null };

const textMessage = {
  nul: 'must not contain NUL (U+0000)',
  surrogate: 'must be well-formed Unicode (it has an unpaired surrogate)',
  infinite: 'must be a finite number',
};

/**
 * A validator compiler for `app.setValidatorCompiler`. Bodies are validated without type coercion (Fastify's
 * default coerces them too: `"title": 123` became `"123"` and `"owner_id": true` became `1`), so a wrong
 * JSON type is a 400 naming the field; query strings, parameters and headers coerce as before (`'array'`).
 * Unknown members are never removed (a schema with `additionalProperties: false` refuses them). After the
 * schema passes, every string and member name is checked to be well-formed Unicode without NUL, and every
 * number to be finite: Ajv coerces `"1e309"` or `"Infinity"` to Infinity and passes it as an integer within
 * any `maximum` (seen with Ajv 8.20: `/v1/entities/1e309` reached SQL), and `JSON.parse('1e309')` is Infinity.
 *
 * @example
 * const app = Fastify();
 * app.setValidatorCompiler(validatorCompiler());
 */
export function validatorCompiler(options: ValidatorCompilerOptions = {}): FastifySchemaCompiler<unknown> {
  const common = { useDefaults: true, removeAdditional: false, allErrors: false } as const;
  const body = addFormats(new Ajv({ ...common, coerceTypes: false }));
  const text = addFormats(new Ajv({ ...common, coerceTypes: 'array' }));
  const allowNul = options.allowNul ?? false;
  return function compileValidator({ schema, httpPart }) {
    const ajv = httpPart === 'body' ? body : text;
    const compiled = ajv.compile(schema as object);
    const validate: Validate = function validateRequestPart(data: unknown): boolean {
      if (!compiled(data)) {
        validate.errors = (compiled.errors as FastifySchemaValidationError[] | null | undefined) ?? null;
        return false;
      }
      const issue = textIssue(data, allowNul);
      validate.errors = issue ? [issue] : null;
      return issue === undefined;
    };
    return validate;
  };
}

// The first string (or member name) that is not storable text, or number that is not finite, as an Ajv-shaped
// error naming its path. The path is put together on the way back from an issue, so that input that passes
// (every request's case) builds no string.
function textIssue(value: unknown, allowNul: boolean): ValidationIssue | undefined {
  if (typeof value === 'string') return stringIssue(value, allowNul);
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : issue('infinite');
  if (typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = textIssue(value[i], allowNul);
      if (found) return within(found, String(i));
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    // A bad member name is reported at its object: the name itself is what cannot be shown.
    const nameIssue = stringIssue(key, allowNul);
    if (nameIssue) return { ...nameIssue, message: `has a member name that ${nameIssue.message}` };
    const found = textIssue((value as Record<string, unknown>)[key], allowNul);
    if (found) return within(found, key);
  }
  return undefined;
}

/** `found`, one level down: under member (or index) `key` (a JSON Pointer segment, RFC 6901 escapes). */
function within(found: ValidationIssue, key: string): ValidationIssue {
  found.instancePath = `/${key.replaceAll('~', '~0').replaceAll('/', '~1')}${found.instancePath}`;
  return found;
}

function stringIssue(value: string, allowNul: boolean): ValidationIssue | undefined {
  const problem = !allowNul && value.includes('\0') ? 'nul' : value.isWellFormed() ? undefined : 'surrogate';
  return problem ? issue(problem) : undefined;
}

function issue(problem: keyof typeof textMessage): ValidationIssue {
  return {
    instancePath: '',
    schemaPath: '#/text',
    keyword: 'text',
    message: textMessage[problem],
    params: { problem },
  };
}
