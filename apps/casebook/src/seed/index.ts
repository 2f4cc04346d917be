export { type SeedOptions, type SeedReport, seed, seedBaseTime } from './generate.ts';
export { type ProfileName, profiles } from './profiles.ts';
