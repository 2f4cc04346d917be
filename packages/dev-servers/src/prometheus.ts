// A real Prometheus (Debian's `prometheus`) on a free loopback port, scraping loopback targets: for tests of what
// reads the fleet's metrics from it (the degrader's Prometheus source, recording rules).

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from './ports.ts';

export interface PrometheusTarget {
  /** `127.0.0.1:<port>`: loopback only. */
  address: string;
  /** The scrape's job label. @default 'app' */
  job?: string;
  /** @default '/metrics' */
  metricsPath?: string;
  /** A bearer token for the scrape (a protected /metrics). */
  bearer?: string;
}

export interface PrometheusOptions {
  /** Where its config and TSDB go (a test's temporary directory). */
  dir: string;
  targets: PrometheusTarget[];
  /** @default '1s' */
  scrapeInterval?: string;
  /** @default 'prometheus' from PATH */
  binary?: string;
  /** Feature flags, e.g. `['exemplar-storage']` (`--enable-feature=`). @default none */
  features?: string[];
}

export interface PrometheusServer {
  readonly url: string;
  readonly running: boolean;
  /** SIGTERM, and wait for the exit. */
  stop(): Promise<void>;
}

/** True once Prometheus has `count` active targets, each scraped at least once. */
async function allScraped(url: string, count: number): Promise<boolean> {
  try {
    const body = (await (await fetch(`${url}/api/v1/targets`)).json()) as {
      data?: { activeTargets?: { health?: string }[] };
    };
    const active = body.data?.activeTargets ?? [];
    return active.length === count && active.every((target) => target.health !== 'unknown');
  } catch {
    return false;
  }
}

/**
 * Starts Prometheus scraping `targets` every `scrapeInterval`, resolved once it is ready and has scraped every
 * target once (a few seconds: its target discovery hands targets over every 5 s).
 *
 * @example
 * const prometheus = await startPrometheus({ dir, targets: [{ address: '127.0.0.1:3000', job: 'casebook' }] });
 * await fetch(`${prometheus.url}/api/v1/query?query=up`);
 */
export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusServer> {
  for (const target of options.targets) {
    if (!/^(127\.\d+\.\d+\.\d+|\[::1\]|localhost):\d+$/.test(target.address)) {
      throw new Error(`startPrometheus: targets must be loopback addresses, got ${target.address}`);
    }
  }
  const interval = options.scrapeInterval ?? '1s';
  const jobs = options.targets.map((target, i) =>
    [
      `  - job_name: ${JSON.stringify(`${target.job ?? 'app'}${i === 0 ? '' : `-${i}`}`)}`,
      `    metrics_path: ${JSON.stringify(target.metricsPath ?? '/metrics')}`,
      ...(target.bearer ? [`    authorization: { credentials: ${JSON.stringify(target.bearer)} }`] : []),
      `    static_configs: [{ targets: [${JSON.stringify(target.address)}], labels: { job: ${JSON.stringify(target.job ?? 'app')} } }]`,
    ].join('\n'),
  );
  await mkdir(join(options.dir, 'data'), { recursive: true });
  const config = join(options.dir, 'prometheus.yml');
  await writeFile(
    config,
    `global: { scrape_interval: ${interval}, evaluation_interval: ${interval} }\nscrape_configs:\n${jobs.join('\n')}\n`,
  );
  const port = await freePort();
  const binary = options.binary ?? 'prometheus';
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(options.dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
      ...(options.features?.length ? [`--enable-feature=${options.features.join(',')}`] : []),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (chunk) => {
    log = (log + chunk).slice(-4_000);
  });
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  child.once('error', () => {});
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; ; attempt++) {
    if (exited) throw new Error(`prometheus exited during start-up (apt-get install prometheus?):\n${log}`);
    const ready = await fetch(`${url}/-/ready`).then(
      (res) => res.ok,
      () => false,
    );
    // Ready, and every target scraped once: target discovery hands targets over every 5 s at most.
    if (ready && (await allScraped(url, options.targets.length))) break;
    if (attempt > 300) {
      child.kill('SIGKILL');
      throw new Error(
        `prometheus on ${url} was not ready (or had not scraped every target) in 30 s:\n${log}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    get running() {
      return !exited;
    },
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      await exit;
    },
  };
}
