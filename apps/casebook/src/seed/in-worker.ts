// Seeds in a worker thread, so the serving process's heap and JIT state start clean: seeding the demo data in
// the server's own isolate left its cache-hit path about 15% slower for the life of the process (measured
// with bench/cache-hit: 36k → 42k req/s once the seed moved out).

import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import pg from 'pg';
import { type SeedOptions, type SeedReport, seed } from './generate.ts';

interface Job {
  databaseUrl: string;
  options: Omit<SeedOptions, 'onProgress'>;
}

/**
 * `seed` run on its own connection in a worker thread; resolves with its report.
 *
 * @example
 * const report = await seedInWorker(databaseUrl, { ...profiles.demo, ifEmpty: true });
 */
export function seedInWorker(
  databaseUrl: string,
  options: Omit<SeedOptions, 'onProgress'>,
): Promise<SeedReport> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), {
      workerData: { databaseUrl, options } satisfies Job,
    });
    let report: SeedReport | undefined;
    worker.once('message', (message: SeedReport) => {
      report = message;
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (report) resolve(report);
      else reject(new Error(`the seed worker exited with code ${code} before reporting`));
    });
  });
}

if (!isMainThread && parentPort && (workerData as Job | undefined)?.databaseUrl) {
  const { databaseUrl, options } = workerData as Job;
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  try {
    parentPort.postMessage(await seed(pool, options));
  } finally {
    await pool.end();
  }
}
