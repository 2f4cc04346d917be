// One load thread of runParallel: loads the scenario, runs its shard, posts the figures back.

import { parentPort, workerData } from 'node:worker_threads';
import { loadScenario } from '../scenario/load-scenario.ts';
import type { WorkerInput, WorkerOutput } from './parallel.ts';
import { runScenario } from './run.ts';

const input = workerData as WorkerInput;
const scenario = await loadScenario(input.scenarioFile, { target: input.target });
const result = await runScenario(scenario, {
  routes: input.routes,
  phases: input.phases,
  connections: input.connections,
  warmConnections: input.warmConnections,
  shard: input.shard,
  startAt: input.startAt,
  setupValues: input.setupValues,
});
const { seconds: _inMemoryOnly, ...rest } = result;
const output: WorkerOutput = { ...rest, cells: result.cells.map((c) => c.toJSON()) };
parentPort?.postMessage(output);
