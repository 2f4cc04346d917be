// One load thread of runParallel: loads the scenario, says it is ready, runs its shard from the start time the
// main thread sends, posts the figures back.

import { parentPort, workerData } from 'node:worker_threads';
import { loadScenario } from '../scenario/load-scenario.ts';
import type { StartMessage, WorkerInput, WorkerMessage, WorkerOutput } from './parallel.ts';
import { runScenario } from './run.ts';

const input = workerData as WorkerInput;
const scenario = await loadScenario(input.scenarioFile, { target: input.target });
const result = await runScenario(scenario, {
  routes: input.routes,
  phases: input.phases,
  connections: input.connections,
  warmConnections: input.warmConnections,
  shard: input.shard,
  // Loaded and connected: say so, and start when every thread has (the main thread sends one start to all).
  ready: () =>
    new Promise<number>((resolve) => {
      parentPort?.once('message', (message: StartMessage) => resolve(message.startAt));
      parentPort?.postMessage({ ready: true } satisfies WorkerMessage);
    }),
  setupValues: input.setupValues,
});
const { seconds: _inMemoryOnly, ...rest } = result;
const output: WorkerOutput = { ...rest, cells: result.cells.map((c) => c.toJSON()) };
parentPort?.postMessage(output);
