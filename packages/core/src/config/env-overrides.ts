// Environment variables over the file: an explicit map from a variable's name to a dotted path in the config,
// each value read as the type the schema gives that path (the environment only holds text).

import { invalidOption } from '../errors/index.ts';
import { isPlainObject } from './config-file.ts';

/** One variable that is set, ready to lay over the file's value. */
export interface EnvOverride {
  /** The variable's name, reported as the source of a problem with its value. */
  name: string;
  /** The path as segments (`['tiers', 'free', 'pageCap']`). */
  segments: readonly string[];
  /** The JSON pointer of the path (`/tiers/free/pageCap`). */
  pointer: string;
  value: unknown;
}

type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'null' | 'object' | 'array';

const number = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/**
 * The overrides the environment sets, in the map's order. A path the schema has no place for throws
 * HR_INVALID_OPTION at once (a typo in the map is a bug, found at start). A value is a number when the schema
 * allows a number and the text is one, `true`/`false` for a boolean, `null` for null, JSON for an object or an
 * array; otherwise it stays text, and the schema check reports it with the variable's name.
 *
 * @example
 * envOverrides(schema, { CASEBOOK_PAGE_CAP: 'tiers.free.pageCap' }, { CASEBOOK_PAGE_CAP: '50' });
 * // [{ name: 'CASEBOOK_PAGE_CAP', segments: ['tiers', 'free', 'pageCap'], pointer: '/tiers/free/pageCap', value: 50 }]
 */
export function envOverrides(
  schema: object,
  map: Readonly<Record<string, string>>,
  source: Readonly<Record<string, string | undefined>>,
): EnvOverride[] {
  if (!isPlainObject(map))
    throw invalidOption('config', 'env', 'a map of variable names to dotted paths', map);
  const overrides: EnvOverride[] = [];
  for (const [name, path] of Object.entries(map)) {
    const segments = typeof path === 'string' ? path.split('.') : [];
    if (name === '' || segments.length === 0 || segments.some((s) => s === '')) {
      throw invalidOption('config', `env.${name}`, 'a dotted path such as "tiers.free.pageCap"', path);
    }
    let schemas: Record<string, unknown>[] = [schema as Record<string, unknown>];
    for (const segment of segments) schemas = schemas.flatMap((s) => childSchemas(s, segment));
    if (schemas.length === 0) {
      throw invalidOption('config', `env.${name}`, 'a path to a property the schema declares', path);
    }
    const text = source[name];
    if (text === undefined) continue;
    const pointer = `/${segments.map((s) => s.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}`;
    overrides.push({ name, segments, pointer, value: coerce(text, typesOf(schemas)) });
  }
  return overrides;
}

/**
 * Lays the overrides over `target` (changed in place). Each value is copied, so no reload shares an object
 * with another (each applied config is frozen). A path through something other than an object is left alone:
 * the schema check reports that value's type.
 */
export function applyOverrides(target: Record<string, unknown>, overrides: readonly EnvOverride[]): void {
  for (const { segments, value } of overrides) {
    let node = target;
    let reachable = true;
    for (const segment of segments.slice(0, -1)) {
      const next = node[segment];
      if (next === undefined) node[segment] = {};
      else if (!isPlainObject(next)) {
        reachable = false;
        break;
      }
      node = node[segment] as Record<string, unknown>;
    }
    if (reachable) node[segments.at(-1)!] = structuredClone(value);
  }
}

/** The subschemas that may describe member `key` of a value that `schema` describes. */
function childSchemas(schema: unknown, key: string): Record<string, unknown>[] {
  if (!isPlainObject(schema)) return [];
  const found: Record<string, unknown>[] = [];
  const properties = schema.properties;
  if (isPlainObject(properties) && isPlainObject(properties[key])) found.push(properties[key]);
  else {
    if (isPlainObject(schema.patternProperties)) {
      for (const [pattern, sub] of Object.entries(schema.patternProperties)) {
        if (isPlainObject(sub) && new RegExp(pattern, 'u').test(key)) found.push(sub);
      }
    }
    if (found.length === 0 && isPlainObject(schema.additionalProperties))
      found.push(schema.additionalProperties);
  }
  for (const branch of branches(schema)) found.push(...childSchemas(branch, key));
  return found;
}

function branches(schema: Record<string, unknown>): unknown[] {
  return ['anyOf', 'oneOf', 'allOf'].flatMap((k) =>
    Array.isArray(schema[k]) ? (schema[k] as unknown[]) : [],
  );
}

/** The JSON types the schemas allow, from `type`, `const`, `enum` and their branches. */
function typesOf(schemas: readonly unknown[]): Set<JsonType> {
  const types = new Set<JsonType>();
  const add = (value: unknown) => {
    if (value === null) types.add('null');
    else if (Array.isArray(value)) types.add('array');
    else if (typeof value === 'number') types.add('number');
    else if (typeof value === 'boolean' || typeof value === 'string' || typeof value === 'object') {
      types.add(typeof value as JsonType);
    }
  };
  const visit = (schema: unknown) => {
    if (!isPlainObject(schema)) return;
    const type = schema.type;
    for (const t of Array.isArray(type) ? type : [type]) if (typeof t === 'string') types.add(t as JsonType);
    if ('const' in schema) add(schema.const);
    if (Array.isArray(schema.enum)) for (const value of schema.enum) add(value);
    for (const branch of branches(schema)) visit(branch);
  };
  for (const schema of schemas) visit(schema);
  return types;
}

function coerce(text: string, types: ReadonlySet<JsonType>): unknown {
  if ((types.has('number') || types.has('integer')) && number.test(text)) return Number(text);
  if (types.has('boolean') && (text === 'true' || text === 'false')) return text === 'true';
  if (types.has('null') && text === 'null') return null;
  const wantsObject = types.has('object') && text.trimStart().startsWith('{');
  const wantsArray = types.has('array') && text.trimStart().startsWith('[');
  if (wantsObject || wantsArray) {
    try {
      return JSON.parse(text);
    } catch {
      // Stays text: the schema check reports the variable's value as not an object or an array.
    }
  }
  return text;
}
