// Reads a scenario file (YAML): schema check with every problem named by path, units turned into numbers,
// data feeds loaded beside it.

import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseDuration, parseRate } from '@headroom/core/slo';
import { Ajv } from 'ajv';
import { parse as parseCsv } from 'csv-parse/sync';
import { parse as parseYaml } from 'yaml';
import { cliErrors } from '../errors.ts';
import type { ClosedStage, Flow, OpenStage, Scenario, Step } from './scenario.ts';
import { scenarioSchema } from './schema.ts';

interface RawStage {
  name: string;
  duration: string;
  rate?: string;
  to?: string;
  vus?: number;
  thinkTime?: string;
  judge?: boolean;
}
interface RawScenario {
  name: string;
  target?: string;
  seed?: number;
  model?: 'open' | 'closed';
  stages: RawStage[];
  maxInflight?: number;
  timeout?: string;
  vars?: Record<string, unknown>;
  feeds?: Record<string, { file: string }>;
  setup?: Step[];
  flows: (Omit<Flow, 'weight'> & { weight?: number })[];
  spec?: string;
  judgeThroughput?: boolean;
}

const validate = new Ajv({ allErrors: true, strict: true, strictRequired: false }).compile<RawScenario>(
  scenarioSchema,
);

/**
 * Loads a scenario file; `target` may be overridden (e.g. by `--target`).
 *
 * @example
 * const scenario = await loadScenario('scenarios/golden-path.yaml', { target: 'http://127.0.0.1:3000' });
 */
export async function loadScenario(path: string, overrides: { target?: string } = {}): Promise<Scenario> {
  const raw = await readRaw(resolve(path));
  if (!validate(raw)) {
    const problems = (validate.errors ?? []).map(
      (e) => `  ${e.instancePath || '/'}: ${e.message} [${e.keyword}]`,
    );
    throw cliErrors.create(
      'HR_SCENARIO_INVALID',
      `${path} is not a valid scenario:\n${problems.join('\n')}`,
      {
        context: { source: path, problems: validate.errors },
      },
    );
  }
  const model = raw.model ?? 'open';
  const stages = raw.stages.map((stage, i) => toStage(stage, model, `${path}: /stages/${i}`));
  const base = dirname(resolve(path));
  const feeds: Scenario['feeds'] = {};
  for (const [name, feed] of Object.entries(raw.feeds ?? {}))
    feeds[name] = await loadFeed(resolve(base, feed.file));
  const target = overrides.target ?? raw.target;
  if (!target)
    throw cliErrors.create('HR_SCENARIO_INVALID', `${path}: no target: set "target" or pass --target`);
  return {
    name: raw.name,
    target,
    seed: raw.seed ?? 1,
    model,
    stages: stages as OpenStage[] | ClosedStage[],
    maxInflight: raw.maxInflight ?? 10_000,
    timeoutMs: parseDuration(raw.timeout ?? '30s'),
    vars: raw.vars ?? {},
    feeds,
    setup: raw.setup ?? [],
    flows: raw.flows.map((flow) => ({ ...flow, weight: flow.weight ?? 1 })),
    judgeThroughput: raw.judgeThroughput ?? false,
    ...(raw.spec ? { spec: resolve(base, raw.spec) } : {}),
  };
}

/**
 * Reads a scenario's YAML, following `extends: other.yaml` (relative to the file): the base's keys, then this
 * file's keys on top (shallow), so load profiles can share one set of flows.
 */
async function readRaw(file: string, seen = new Set<string>()): Promise<unknown> {
  if (seen.has(file)) throw cliErrors.create('HR_SCENARIO_INVALID', `${file}: extends itself in a cycle`);
  seen.add(file);
  const raw: unknown = parseYaml(await readFile(file, 'utf8'));
  if (!raw || typeof raw !== 'object' || !('extends' in raw)) return raw;
  const { extends: base, ...own } = raw as { extends: unknown };
  if (typeof base !== 'string')
    throw cliErrors.create('HR_SCENARIO_INVALID', `${file}: "extends" must be a file name`);
  const parent = (await readRaw(resolve(dirname(file), base), seen)) as Record<string, unknown>;
  // Paths in the base (feeds, spec) stay relative to the base's folder: the same folder here, by convention.
  return { ...parent, ...own };
}

function toStage(stage: RawStage, model: 'open' | 'closed', where: string): OpenStage | ClosedStage {
  const durationMs = parseDuration(stage.duration);
  const judge = stage.judge ?? true;
  if (model === 'open') {
    if (!stage.rate)
      throw cliErrors.create('HR_SCENARIO_INVALID', `${where}: an open-model stage needs "rate"`);
    return {
      name: stage.name,
      durationMs,
      judge,
      rate: parseRate(stage.rate),
      ...(stage.to ? { to: parseRate(stage.to) } : {}),
    };
  }
  if (stage.vus === undefined)
    throw cliErrors.create('HR_SCENARIO_INVALID', `${where}: a closed-model stage needs "vus"`);
  return {
    name: stage.name,
    durationMs,
    judge,
    vus: stage.vus,
    thinkTimeMs: parseDuration(stage.thinkTime ?? '0ms'),
  };
}

async function loadFeed(file: string): Promise<Record<string, string>[]> {
  const text = await readFile(file, 'utf8');
  const rows: unknown = file.endsWith('.json')
    ? JSON.parse(text)
    : parseCsv(text, { columns: true, skip_empty_lines: true });
  if (!Array.isArray(rows) || rows.length === 0) {
    throw cliErrors.create('HR_SCENARIO_INVALID', `feed ${file} has no rows`);
  }
  return rows as Record<string, string>[];
}
