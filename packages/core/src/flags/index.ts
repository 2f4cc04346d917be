export type {
  FlagChange,
  FlagContext,
  FlagDefinition,
  FlagEvaluation,
  FlagReason,
  FlagRule,
} from './flags.ts';
export { createFlags, Flags } from './flags.ts';
