// Names each request by its route template, so results group per route with no tagging by the user.

/** A route template such as `GET /v1/cases/:id`, compiled to a matcher. */
interface CompiledRoute {
  name: string;
  method: string;
  pattern: RegExp;
  /** Static routes beat parametric ones: `/v1/cases/search` over `/v1/cases/:id`. */
  statics: number;
}

/**
 * Matches concrete requests against known route templates (the spec's); a request no template matches is
 * named by the template it was written from (`/v1/cases/${caseId}` → `/v1/cases/:caseId`).
 *
 * @example
 * const match = routeMatcher(['GET /v1/cases/search', 'GET /v1/cases/:id']);
 * match('GET', '/v1/cases/42?expand=owner', '/v1/cases/${id}') // 'GET /v1/cases/:id'
 */
export function routeMatcher(
  templates: readonly string[],
): (method: string, path: string, written: string) => string {
  const compiled: CompiledRoute[] = templates
    .map((template) => {
      const [method, path, extra] = template.split(' ');
      if (!method || !path?.startsWith('/') || extra !== undefined) {
        throw new TypeError(
          `route "${template}": a route template is a method and a path, e.g. "GET /v1/cases/:id"`,
        );
      }
      const segments = path.split('/');
      const source = segments
        .map((s) => (s.startsWith(':') ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('/');
      return {
        name: template,
        method,
        pattern: new RegExp(`^${source}$`),
        statics: segments.filter((s) => !s.startsWith(':')).length,
      };
    })
    .sort((a, b) => b.statics - a.statics);
  /**
   * Names of requests written with no `${...}`, by method and path: such a request is sent as written, so its
   * name never changes, and it is matched once rather than once per request.
   */
  const fixed = new Map<string, Map<string, string>>();
  const name = (method: string, path: string, written: string) => {
    const bare = path.split('?')[0]!;
    for (const route of compiled) {
      if (route.method === method && route.pattern.test(bare)) return route.name;
    }
    const template = written
      .split('?')[0]!
      .replace(/\$\{\s*([\w.]+)[^}]*\}/g, (_, name: string) => `:${name.split('.').at(-1)}`);
    return `${method} ${template}`;
  };
  return (method, path, written) => {
    if (path !== written) return name(method, path, written);
    let byPath = fixed.get(method);
    if (!byPath) {
      byPath = new Map();
      fixed.set(method, byPath);
    }
    let found = byPath.get(path);
    if (found === undefined) {
      found = name(method, path, written);
      byPath.set(path, found);
    }
    return found;
  };
}
