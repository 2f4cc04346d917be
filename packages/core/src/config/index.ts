export type {
  ConfigChange,
  ConfigOptions,
  ConfigRejection,
  ConfigReload,
  ConfigStats,
  ConfigWatchError,
  ReloadOutcome,
  ReloadResult,
  ReloadTrigger,
} from './config.ts';
export { Config, createConfig } from './config.ts';
export type { ConfigErrorCode } from './errors.ts';
export { configErrorCodes, configErrors } from './errors.ts';
export type { ConfigProblem } from './problem.ts';
export { describeProblems } from './problem.ts';
