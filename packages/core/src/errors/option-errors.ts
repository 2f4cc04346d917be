// What a component says about its options: HR_INVALID_OPTION for one it cannot use, a DeprecationWarning for
// one that was renamed. Every package of Headroom builds these two the same way.

import { commonErrors } from './codes.ts';
import type { HeadroomError } from './headroom-error.ts';

/**
 * The error for an option a component cannot use (HR_INVALID_OPTION); `context.option` names it.
 *
 * @example
 * throw invalidOption('retry', 'maxAttempts', 'an integer >= 1', 0);
 */
export function invalidOption(
  component: string,
  option: string,
  rule: string,
  value: unknown,
): HeadroomError {
  const shown = typeof value === 'function' ? 'a function' : (JSON.stringify(value) ?? String(value));
  return commonErrors.create(
    'HR_INVALID_OPTION',
    `${component}: option "${option}" must be ${rule}, got ${shown}`,
    { context: { component, option, value: typeof value === 'function' ? undefined : value } },
  );
}

/**
 * The value of an option under its old name, with a DeprecationWarning naming the new one when it is set.
 * Options are renamed with an alias for one release (see CONTRIBUTING.md); the new name wins when both are set.
 *
 * @example
 * const storeTimeout = options.storeTimeout ?? deprecatedOption('rateLimiter', 'storeTimeoutMs', 'storeTimeout', options.storeTimeoutMs);
 */
export function deprecatedOption<T>(component: string, old: string, replacement: string, value: T): T {
  if (value !== undefined) {
    process.emitWarning(
      `${component}: option "${old}" is deprecated and goes in the next release; use "${replacement}"`,
      { type: 'DeprecationWarning', code: 'HR_DEPRECATED_OPTION' },
    );
  }
  return value;
}
