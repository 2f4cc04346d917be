// Named dataset sizes: the demo that `npm start` seeds, the bench profile, and a tiny one for tests.

import type { SeedOptions } from './generate.ts';

type Profile = Required<Omit<SeedOptions, 'seed' | 'ifEmpty' | 'onProgress'>>;

/** demo: what a newcomer sees; bench: what the numbers are measured on; test: fast enough for every test file. */
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
    comments: 600,
    entities: 120,
    links: 500,
  },
} as const satisfies Record<string, Profile>;

export type ProfileName = keyof typeof profiles;
