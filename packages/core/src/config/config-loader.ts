// One config from one read of the file: parse → lay the environment over it → fill defaults and validate with
// Ajv (every error at once) → freeze. Pure apart from its input: the same read always builds the same result.

import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { invalidOption } from '../errors/index.ts';
import { canonicalJson } from '../idempotency/fingerprint.ts';
import { type ConfigFormat, type FileRead, isPlainObject, parseConfigFile } from './config-file.ts';
import { applyOverrides, type EnvOverride } from './env-overrides.ts';
import type { ConfigProblem } from './problem.ts';

const require = createRequire(import.meta.url);
// CommonJS packages with `exports.default`: required, not imported, so the types and the value agree.
const Ajv = require('ajv') as typeof import('ajv').default;
const addFormats = require('ajv-formats') as typeof import('ajv-formats').default;

/** A config built from one read, or why it could not be. */
export type Built<T> = { ok: true; value: T; version: string } | { ok: false; errors: ConfigProblem[] };

/** Builds configs from reads of one file, with one schema and one set of environment overrides. */
export class ConfigLoader<T> {
  readonly #validate: ValidateFunction;
  readonly #format: ConfigFormat;
  readonly #source: string;
  readonly #overrides: readonly EnvOverride[];

  constructor(schema: object, format: ConfigFormat, source: string, overrides: readonly EnvOverride[]) {
    this.#format = format;
    this.#source = source;
    this.#overrides = overrides;
    // useDefaults fills what neither the file nor the environment sets; formats (`uri`, `email`, `date-time`…)
    // are the ones Fastify knows, so a schema shared with routes compiles the same here.
    const ajv = new Ajv({ allErrors: true, useDefaults: true, strictRequired: false });
    addFormats(ajv);
    try {
      this.#validate = ajv.compile(schema);
    } catch (error) {
      throw invalidOption('config', 'schema', 'a JSON Schema that Ajv compiles', (error as Error).message);
    }
  }

  /** The config a read of the file gives: the file over the defaults, the environment over the file. */
  build(read: FileRead): Built<T> {
    if (read.error) {
      const message = `cannot be read (${read.error.code ?? read.error.message})`;
      return { ok: false, errors: [{ path: '/', message, keyword: 'read', source: this.#source }] };
    }
    const parsed =
      read.bytes === undefined
        ? { value: {}, problems: [], lineOf: () => undefined }
        : parseConfigFile(read.bytes, this.#format, this.#source);
    if (parsed.value === undefined) return { ok: false, errors: parsed.problems };
    const value = parsed.value;
    applyOverrides(value, this.#overrides);
    if (!this.#validate(value)) {
      const errors = (this.#validate.errors ?? []).map((e) => this.#problem(e, parsed.lineOf));
      return { ok: false, errors };
    }
    const version = createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 12);
    return { ok: true, value: deepFreeze(value) as T, version };
  }

  #problem(error: ErrorObject, lineOf: (pointer: string) => number | undefined): ConfigProblem {
    // A missing or unexpected member is reported at its own path, not at its parent's.
    const member =
      error.keyword === 'required'
        ? (error.params as { missingProperty: string }).missingProperty
        : error.keyword === 'additionalProperties'
          ? (error.params as { additionalProperty: string }).additionalProperty
          : undefined;
    const path =
      member === undefined
        ? error.instancePath || '/'
        : `${error.instancePath}/${member.replaceAll('~', '~0').replaceAll('/', '~1')}`;
    const override = this.#overrides.find((o) => path === o.pointer || path.startsWith(`${o.pointer}/`));
    const problem: ConfigProblem = {
      path,
      message: error.message ?? 'is invalid',
      keyword: error.keyword,
      source: override ? `env ${override.name}` : this.#source,
    };
    const line = override ? undefined : lineOf(path);
    if (line !== undefined) problem.line = line;
    return problem;
  }
}

/** Freezes `value` and everything in it, so no reader can change the config another reader sees. */
function deepFreeze(value: unknown): unknown {
  if (Array.isArray(value)) value.forEach(deepFreeze);
  else if (isPlainObject(value)) Object.values(value).forEach(deepFreeze);
  return Object.freeze(value);
}
