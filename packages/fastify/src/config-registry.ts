// The app's hot-reloaded config, as /metrics and /health see it: `app.headroom.config.add(config)`.

import type { Config } from '@headroom/core/config';
import { Gauge, type Registry } from 'prom-client';
import type { HealthCheck } from './health.ts';
import { CounterFamily } from './metric-series.ts';

/**
 * What `app.headroom.config` offers.
 *
 * @example
 * app.headroom.config.add(await createConfig({ schema, dir, file }));
 */
export interface ConfigRegistry {
  /** Reports the config: `headroom_config_reloads_total{result}`, `headroom_config_info`, a check. Returns it. */
  add<T>(config: Config<T>): Config<T>;
  /** `config:version`: the version in force, `warn` while the last reload was refused. */
  checks(): Record<string, HealthCheck>;
}

/**
 * Registers `headroom_config_reloads_total{result}` (applied, unchanged, rejected) and
 * `headroom_config_info{version,checksum}` (1 for the config in force).
 *
 * @example
 * const config = createConfigRegistry(registry);
 */
export function createConfigRegistry(registry: Registry): ConfigRegistry {
  let tracked: Config<unknown> | undefined;
  let refused: string | undefined;
  const reloads = new CounterFamily({
    name: 'headroom_config_reloads_total',
    help: 'Reloads of the config file by result: applied, unchanged, rejected (the config in force stays).',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'headroom_config_info',
    help: 'Always 1; its labels name the config in force: its version and the checksum of its file.',
    labelNames: ['version', 'checksum'] as const,
    registers: [registry],
    collect() {
      this.reset();
      if (tracked) {
        const { version, checksum } = tracked.stats();
        this.set({ version, checksum: checksum.slice(0, 12) }, 1);
      }
    },
  });
  return {
    add(config) {
      tracked = config as Config<unknown>;
      for (const result of ['applied', 'unchanged', 'rejected'] as const) reloads.labels(result);
      config.onReload((e) => {
        reloads.labels(e.result).inc();
        refused =
          e.result === 'rejected'
            ? `the last file was refused (${e.trigger}); version ${e.version} stays`
            : undefined;
      });
      return config;
    },
    checks(): Record<string, HealthCheck> {
      if (!tracked) return {};
      const version = tracked.stats().version;
      return {
        'config:version': refused ? { status: 'warn', output: refused } : { status: 'pass', output: version },
      };
    },
  };
}
