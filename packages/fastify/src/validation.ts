// Turns Fastify's schema-validation errors (Ajv) into field-level problem members that name the input.

/** One failing field of a request, as reported in the `errors` member of an HR_VALIDATION problem. */
export interface FieldError {
  /** `<location>.<path>`, e.g. `query.limit`, `body.owner.name`, `params.id`. */
  field: string;
  /** What is wrong with the field, e.g. `is required`, `must be <= 100`. */
  message: string;
  /** The JSON-Schema keyword that failed (`required`, `maximum`, `type`, ...). */
  keyword: string;
}

/** The members an HR_VALIDATION problem gets from {@link validationDetails}. */
export interface ValidationDetails {
  /** The first failing field (or just the location when the validator did not say which). */
  field: string;
  /** A sentence naming the first failing field. */
  detail: string;
  errors: FieldError[];
}

/** The subset of an Ajv `ErrorObject` this module reads. */
interface AjvErrorLike {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

const locations: Record<string, string> = {
  body: 'body',
  querystring: 'query',
  params: 'params',
  headers: 'headers',
};

/**
 * Maps a Fastify validation error to the failing fields, the first of them, and a sentence naming it. Fastify's
 * default Ajv stops at the first error (no `allErrors`, on purpose), so `errors` usually has one entry.
 *
 * @example
 * const { field, detail, errors } = validationDetails(error.validationContext, error.validation, error.message);
 * // detail: 'query.limit must be <= 100'
 */
export function validationDetails(
  context: unknown,
  validation: unknown,
  fallbackMessage: string,
): ValidationDetails {
  const location = (typeof context === 'string' && locations[context]) || 'request';
  const errors: FieldError[] = [];
  if (Array.isArray(validation)) {
    for (const entry of validation as AjvErrorLike[]) errors.push(fieldError(location, entry));
  }
  const first = errors[0];
  if (!first) {
    // A custom validator returned a plain Error: all we know is where.
    return { field: location, detail: `${location} is invalid: ${fallbackMessage}`, errors: [] };
  }
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  return { field: first.field, detail: `${first.field} ${first.message}${more}`, errors };
}

function fieldError(location: string, error: AjvErrorLike): FieldError {
  const keyword = error.keyword ?? 'invalid';
  const segments = pointerSegments(error.instancePath ?? '');
  let message = error.message ?? 'is invalid';
  if (keyword === 'required' && typeof error.params?.missingProperty === 'string') {
    segments.push(error.params.missingProperty);
    message = 'is required';
  } else if (keyword === 'additionalProperties' && typeof error.params?.additionalProperty === 'string') {
    segments.push(error.params.additionalProperty);
    message = 'is not allowed';
  }
  const field = segments.length === 0 ? location : `${location}.${segments.join('.')}`;
  return { field, message, keyword };
}

/** `/owner/tags/0` → `['owner', 'tags', '0']`, undoing JSON-Pointer escapes (RFC 6901). */
function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'));
}
