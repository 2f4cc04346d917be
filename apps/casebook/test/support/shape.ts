// What "JSON member names are snake_case" means, checkable on any body: shared by the shape tests and the
// fuzz suite.

const snakeCase = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/;

/** Members whose names are the caller's own data, not the API's: their keys are not checked. */
const freeForm = new Set(['attributes']);

/**
 * Every member name in `body` (nested objects and arrays included) that is not snake_case, once each, in
 * the order found. The keys of free-form members (an entity's `attributes`) are the caller's, not checked.
 *
 * @example
 * nonSnakeMembers({ token: 'x', expiresAt: '…' }) // ['expiresAt']
 */
export function nonSnakeMembers(body: unknown): string[] {
  const found = new Set<string>();
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) walk(item);
    } else if (value !== null && typeof value === 'object') {
      for (const [name, member] of Object.entries(value)) {
        if (!snakeCase.test(name)) found.add(name);
        if (!freeForm.has(name)) walk(member);
      }
    }
  };
  walk(body);
  return [...found];
}
