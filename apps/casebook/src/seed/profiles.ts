// Named dataset sizes: the demo that `npm start` seeds, the bench profile the numbers are measured on, and a
// tiny one for tests. Other tables scale with cases: 3 comments, 2 entity links and a quarter entity each.

import type { SeedOptions } from './generate.ts';

/** Every count of a dataset; `seed` and the callbacks stay with the caller. */
export type Profile = Required<Omit<SeedOptions, 'seed' | 'ifEmpty' | 'onProgress'>>;

/**
 * The named profiles. `demo` is what a newcomer sees on `npm start`; `bench` is what load tests and the
 * query-plan numbers run on; `test` is small enough for every test file to seed its own database.
 *
 * @example
 * await seed(pool, { ...profiles.bench, seed: 7 });
 * // or from the shell: npm run seed -- --profile bench
 */
export const profiles = {
  demo: {
    tenants: 3,
    usersPerTenant: 20,
    cases: 20_000,
    events: 200_000,
    comments: 60_000,
    entities: 5_000,
    links: 40_000,
  },
  bench: {
    tenants: 3,
    usersPerTenant: 40,
    cases: 100_000,
    events: 2_000_000,
    comments: 300_000,
    entities: 25_000,
    links: 200_000,
  },
  test: {
    tenants: 3,
    usersPerTenant: 8,
    cases: 300,
    events: 3_000,
    comments: 900,
    entities: 120,
    links: 600,
  },
} as const satisfies Record<string, Profile>;

export type ProfileName = keyof typeof profiles;

/**
 * True when `name` is one of the profiles, for checking a name that came from a flag or the environment.
 *
 * @example
 * if (!isProfileName(flag)) throw new Error(`--profile must be one of ${Object.keys(profiles).join(', ')}`);
 */
export function isProfileName(name: string): name is ProfileName {
  return Object.hasOwn(profiles, name);
}
