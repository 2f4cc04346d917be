export type { JobErrorCode } from './errors.ts';
export { jobErrors, postponeJob } from './errors.ts';
export type { EnqueueOptions, JobsOptions, Queryable, QueueCounts } from './jobs.ts';
export { createJobs, Jobs } from './jobs.ts';
export type { ListenClient, NotificationHandler } from './listener.ts';
export type { JobRecord, JobState } from './record.ts';
export { jobsSchemaSql } from './schema.ts';
export type {
  JobEndEvent,
  JobHandler,
  JobOutcome,
  JobStartEvent,
  JobWorkerErrorEvent,
  RunningJob,
  WorkOptions,
} from './worker.ts';
export { JobWorker } from './worker.ts';
