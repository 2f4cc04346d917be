// Which methods a path has routes for, so an unmatched request on a known path is a 405 with `Allow`
// instead of a 404. Matched with find-my-way, the router Fastify itself uses, so both agree on a path.

import { createRequire } from 'node:module';
import { requestPath } from './problem.ts';

const require = createRequire(import.meta.url);
const FindMyWay = require('find-my-way') as typeof import('find-my-way');

/** The methods of every route, by path template. */
export interface RouteMethods {
  /** Records a route (from an onRoute hook). */
  add(method: string, url: string): void;
  /** The methods that have a route matching `url`'s path, sorted; empty when none does. */
  allowed(url: string): string[];
}

/**
 * Builds an empty table; only unmatched requests look it up, so matched ones pay nothing.
 *
 * @example
 * const methods = routeMethods();
 * methods.add('GET', '/v1/cases/:id');
 * methods.allowed('/v1/cases/7'); // ['GET']
 */
export function routeMethods(): RouteMethods {
  const router = FindMyWay();
  const seen = new Set<string>();
  const noop = () => {};
  return {
    add(method, url) {
      seen.add(method);
      try {
        router.on(method as 'GET', url, noop);
      } catch {
        // The same method and path in another encapsulation context: already known.
      }
    },
    allowed(url) {
      const path = requestPath(url);
      const found: string[] = [];
      for (const method of seen) {
        try {
          if (router.find(method as 'GET', path)) found.push(method);
        } catch {
          // A path find-my-way cannot decode matches nothing.
        }
      }
      return found.sort();
    },
  };
}
