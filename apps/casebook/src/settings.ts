// What an operator tunes without a restart: casebook's hot-reloaded config file (`casebook.yaml` in CONFIG_DIR,
// default apps/casebook/config/). Every value is read where it is used, through `settings.get()`, so a reload
// changes behaviour at the next request. The environment (config.ts) keeps what needs a restart: ports, URLs,
// pools, secrets.

import { join } from 'node:path';
import type { Clock } from '@headroom/core/clock';
import { type Config, createConfig } from '@headroom/core/config';
import type { FlagDefinition } from '@headroom/core/flags';
import { type Static, Type } from 'typebox';
import { casebookFlagDefinitions } from './flags.ts';
import { defaultTuning } from './suggestions/tuning.ts';
import { exportConcurrency, maxPageSize, type Tier, tierQuotas } from './tenancy/tiers.ts';

const strict = { additionalProperties: false, default: {} } as const;
const integer = (value: number, minimum: number, maximum?: number, description?: string) =>
  Type.Integer({
    default: value,
    minimum,
    ...(maximum === undefined ? {} : { maximum }),
    ...(description ? { description } : {}),
  });

const tier = (t: Tier) =>
  Type.Object(
    {
      rateLimit: Type.Object(
        {
          limit: integer(tierQuotas[t].limit, 1, undefined, 'requests per window'),
          window: integer(tierQuotas[t].window, 1_000, undefined, 'ms'),
          burst: integer(tierQuotas[t].burst ?? tierQuotas[t].limit, 1, undefined, 'requests at once'),
        },
        strict,
      ),
      pageCap: integer(maxPageSize[t], 1, 100, 'largest page a tenant of this tier gets'),
      exportConcurrency: integer(exportConcurrency[t], 1, 16, 'exports of one tenant running at once'),
    },
    strict,
  );

const flagRule = Type.Object(
  {
    tenants: Type.Optional(Type.Array(Type.String(), { minItems: 1 })),
    tiers: Type.Optional(
      Type.Array(Type.Union([Type.Literal('free'), Type.Literal('pro'), Type.Literal('enterprise')]), {
        minItems: 1,
      }),
    ),
    value: Type.Boolean(),
  },
  { additionalProperties: false },
);
const flag = Type.Object(
  { default: Type.Optional(Type.Boolean()), rules: Type.Optional(Type.Array(flagRule)) },
  strict,
);

/** The schema of `casebook.yaml`: its defaults are casebook's built-in values. */
export const settingsSchema = Type.Object(
  {
    tiers: Type.Object({ free: tier('free'), pro: tier('pro'), enterprise: tier('enterprise') }, strict),
    cache: Type.Object(
      {
        ttl: integer(60_000, 1_000, undefined, 'ms a cached read is fresh'),
        staleWhileRevalidate: integer(
          60_000,
          0,
          undefined,
          'ms a stale read is served while one refresh runs',
        ),
        grace: integer(5 * 60_000, 0, undefined, 'ms a stale read stands in while PostgreSQL fails'),
        timeout: integer(250, 10, 10_000, 'ms a load may take before a stale read goes out instead'),
      },
      strict,
    ),
    suggestions: Type.Object(
      {
        attemptTimeout: integer(defaultTuning.attemptTimeoutMs, 1, 10_000, 'ms per upstream attempt'),
        totalTimeout: integer(
          defaultTuning.totalTimeoutMs,
          1,
          30_000,
          'ms for the whole call, retries included',
        ),
        fresh: integer(defaultTuning.freshMs, 0, undefined, 'ms an answer is fresh'),
        stale: integer(
          defaultTuning.staleMs,
          0,
          undefined,
          'ms an answer stands in while the upstream fails',
        ),
        existsTimeout: integer(
          defaultTuning.existsTimeoutMs,
          1,
          5_000,
          'ms to wait for the database to say the case exists',
        ),
        breaker: Type.Object(
          {
            failureRate: Type.Number({ default: defaultTuning.failureRate, exclusiveMinimum: 0, maximum: 1 }),
            slowCall: integer(defaultTuning.slowCallMs, 1, 60_000, 'ms: a slower call counts as slow'),
            halfOpenAfter: integer(
              defaultTuning.halfOpenAfterMs,
              0,
              undefined,
              'ms open before the first probe',
            ),
            halfOpenMax: integer(defaultTuning.halfOpenMaxMs, 0, undefined, 'ms open at most between probes'),
          },
          strict,
        ),
      },
      strict,
    ),
    database: Type.Object(
      {
        routeDeadlineFactor: Type.Number({
          default: 5,
          minimum: 1,
          maximum: 100,
          description: "a route's database calls may take this many times its slowest budget",
        }),
        routeDeadlines: Type.Record(
          Type.String({ pattern: '^(GET|POST|PUT|PATCH|DELETE) /' }),
          Type.Integer({ minimum: 1, maximum: 60_000 }),
          {
            default: {},
            description: "ms per route ('GET /v1/cases/search'), over the factor",
          },
        ),
      },
      strict,
    ),
    flags: Type.Object(
      Object.fromEntries(Object.keys(casebookFlagDefinitions).map((name) => [name, Type.Optional(flag)])),
      strict,
    ),
    degrade: Type.Record(
      Type.String(),
      Type.Object(
        {
          breachFor: Type.Optional(Type.Integer({ minimum: 0 })),
          restoreFor: Type.Optional(Type.Integer({ minimum: 0 })),
          minHold: Type.Optional(Type.Integer({ minimum: 0 })),
        },
        { additionalProperties: false },
      ),
      { default: {}, description: "timings of headroom.yaml's degrade rules, by name" },
    ),
  },
  { additionalProperties: false },
);

/** Casebook's tunables, as `settings.get()` returns them (deeply frozen). */
export type Settings = Static<typeof settingsSchema>;

/** Where the settings come from: a `Config` (hot-reloaded) or fixed values in tests. */
export type SettingsSource = Pick<Config<Settings>, 'get'>;

/** The example shipped with casebook, and the directory read when CONFIG_DIR is unset. */
export const defaultSettingsDir = join(import.meta.dirname, '..', 'config');
export const settingsFile = 'casebook.yaml';

/** Environment variables over the file: the one casebook had before the file, still honoured. */
export const settingsEnv = { DB_ROUTE_DEADLINE_FACTOR: 'database.routeDeadlineFactor' } as const;

/**
 * Reads `casebook.yaml` from `dir` and watches it (directory watch and stat poll; see @headroom/core/config).
 *
 * @example
 * const settings = await loadSettings({ dir: process.env.CONFIG_DIR ?? defaultSettingsDir, clock });
 */
export function loadSettings(options: {
  dir: string;
  clock: Clock;
  /** Watch and poll the file; off in tests that load once. @default true */
  watch?: boolean;
  env?: Readonly<Record<string, string | undefined>>;
}): Promise<Config<Settings>> {
  const watch = options.watch ?? true;
  return createConfig<Settings>({
    schema: settingsSchema,
    dir: options.dir,
    file: settingsFile,
    clock: options.clock,
    env: settingsEnv,
    envSource: options.env ?? {},
    watch,
    ...(watch ? {} : { pollInterval: Number.POSITIVE_INFINITY }),
  });
}

/** The flags' definitions under `settings.flags`: a file's default and rules over the built-in ones. */
export function flagDefinitions(settings: Settings): Record<string, FlagDefinition> {
  const definitions: Record<string, FlagDefinition> = {};
  for (const [name, builtIn] of Object.entries(casebookFlagDefinitions)) {
    const given = (settings.flags as Record<string, { default?: boolean; rules?: FlagDefinition['rules'] }>)[
      name
    ];
    definitions[name] = {
      ...builtIn,
      ...(given?.default === undefined ? {} : { default: given.default }),
      ...(given?.rules === undefined ? {} : { rules: given.rules }),
    };
  }
  return definitions;
}
