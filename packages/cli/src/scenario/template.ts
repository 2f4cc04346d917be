// `${...}` expressions in scenario strings: variables, feed columns, and seeded random picks.
//
//   ${token}             a captured or setup variable       ${vars.terms}   a scenario variable
//   ${feed.users.email}  a column of this iteration's row   ${pick(vars.terms)}  a random element
//   ${int(1, 500)}       a random integer, both ends included

/** Where expressions find their values. */
export interface TemplateContext {
  values: Record<string, unknown>;
  random: () => number;
}

/**
 * Renders a URL path: values interpolated into it are percent-encoded (`wire transfer` → `wire%20transfer`),
 * the literal text around them is kept as written.
 *
 * @example
 * renderPath('/v1/cases/search?q=${q}', { values: { q: 'wire transfer' }, random: Math.random })
 * // '/v1/cases/search?q=wire%20transfer'
 */
export function renderPath(text: string, context: TemplateContext): string {
  return text.replace(expression, (_, source: string) =>
    encodeURIComponent(String(evaluate(source, context))),
  );
}

const expression = /\$\{\s*([^}]+?)\s*\}/g;

/**
 * Evaluates every `${...}` in a string. A string that is one whole expression keeps the value's type.
 *
 * @example
 * render('/v1/cases/${id}', { values: { id: 42 }, random: Math.random }) // '/v1/cases/42'
 */
export function render(text: string, context: TemplateContext): unknown {
  const whole = /^\$\{\s*([^}]+?)\s*\}$/.exec(text);
  if (whole) return evaluate(whole[1]!, context);
  return text.replace(expression, (_, source: string) => String(evaluate(source, context)));
}

/** Renders strings anywhere inside a JSON value. */
export function renderDeep(value: unknown, context: TemplateContext): unknown {
  if (typeof value === 'string') return render(value, context);
  if (Array.isArray(value)) return value.map((item) => renderDeep(item, context));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderDeep(v, context)]));
  }
  return value;
}

function evaluate(source: string, context: TemplateContext): unknown {
  const call = /^(\w+)\((.*)\)$/.exec(source);
  if (!call) return lookup(source, context.values);
  const [, name, rawArgs] = call as unknown as [string, string, string];
  const args = rawArgs.split(',').map((a) => a.trim());
  if (name === 'pick') {
    const list = lookup(args[0]!, context.values);
    if (!Array.isArray(list) || list.length === 0) throw new Error(`pick(${args[0]}) needs a non-empty list`);
    return list[Math.floor(context.random() * list.length)];
  }
  if (name === 'int') {
    const [min, max] = args.map(Number) as [number, number];
    if (!Number.isInteger(min) || !Number.isInteger(max) || max < min)
      throw new Error(`int(${rawArgs}) needs two integers`);
    return min + Math.floor(context.random() * (max - min + 1));
  }
  throw new Error(`unknown function ${name}() in \${${source}}`);
}

function lookup(path: string, values: Record<string, unknown>): unknown {
  let current: unknown = values;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object' || !(key in current)) {
      throw new Error(`\${${path}} is not defined`);
    }
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}
