// The answer of a control naming something the app does not have: 404 HR_NOT_FOUND, the plugin's code.

import { fastifyErrors } from '../errors.ts';

/**
 * @example
 * throw notFound('cache', 'cache', name); // no cache named "…", context { cache: name }
 */
export function notFound(what: string, field: string, name: string) {
  return fastifyErrors.create('HR_NOT_FOUND', `no ${what} named "${name}"`, { context: { [field]: name } });
}
