export { sloErrorCodes, sloErrors } from './errors.ts';
export { loadSpec, parseSpec } from './load-spec.ts';
export { specSchema } from './schema.ts';
export type { Objective, Percentile, Spec, SpecProblem } from './spec.ts';
export { percentiles } from './spec.ts';
export type { Ratio } from './units.ts';
export { parseDuration, parseRate, parseRatio } from './units.ts';
