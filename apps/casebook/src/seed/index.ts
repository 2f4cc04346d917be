// The dataset generator's public surface: `seed`, its options and report, and the named profiles.

export { demoPassword, type SeedOptions, type SeedReport, seed } from './generate.ts';
export { seedInWorker } from './in-worker.ts';
export { isProfileName, type Profile, type ProfileName, profiles } from './profiles.ts';
export { seedBaseTime } from './rows.ts';
