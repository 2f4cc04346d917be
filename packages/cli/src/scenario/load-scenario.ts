// Reads a scenario file (YAML): schema check with every problem named by file, line and path, units turned
// into numbers, runs that could measure nothing refused, data feeds loaded beside it.

import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseDuration, parseRate, parseRatio, readYaml } from '@headroom/core/slo';
import { Ajv } from 'ajv';
import { parse as parseCsv } from 'csv-parse/sync';
import { cliErrors } from '../errors.ts';
import type {
  ClosedStage,
  Flow,
  OpenStage,
  Scenario,
  SoakCriteria,
  SpikeCriteria,
  Step,
} from './scenario.ts';
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
/** A step as written: `poll.every` a duration, `poll.max` optional. */
type RawStep = Omit<Step, 'poll'> & {
  poll?: { until: Record<string, unknown>; every?: string; max?: number };
};
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
  setup?: RawStep[];
  flows: (Omit<Flow, 'weight' | 'steps'> & { weight?: number; steps: RawStep[] })[];
  spec?: string;
  judgeThroughput?: boolean;
  checkFailures?: string | number;
  spike?: {
    stage: string;
    baseline?: string;
    recovery?: string;
    p99Factor?: number;
    recoveryFactor?: number;
    refusals?: number[];
  };
  soak?: {
    stage?: string;
    window?: string;
    scrapeEvery?: string;
    metrics?: string;
    rssSlope?: string;
    p95Drift?: string | number;
  };
}

/** The merged YAML of a scenario and its `extends` chain, and where each top-level key was written. */
interface RawSource {
  raw: unknown;
  /** `file:line` of the value at a JSON pointer. */
  where(pointer: string): string;
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
  const { raw, where } = await readRaw(resolve(path));
  if (!validate(raw)) {
    const problems = (validate.errors ?? []).map(
      (e) => `  ${where(e.instancePath)}: ${e.instancePath || '/'} ${e.message} [${e.keyword}]`,
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
  const stages = raw.stages.map((stage, i) => toStage(stage, model, (key) => where(`/stages/${i}/${key}`)));
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
    setup: (raw.setup ?? []).map(toStep),
    flows: raw.flows.map((flow) => ({ ...flow, weight: flow.weight ?? 1, steps: flow.steps.map(toStep) })),
    judgeThroughput: raw.judgeThroughput ?? false,
    checkFailures: raw.checkFailures === undefined ? 0 : parseRatio(raw.checkFailures).value,
    ...(raw.spec ? { spec: resolve(base, raw.spec) } : {}),
    ...(raw.spike ? { spike: spikeCriteria(raw.spike, stages, (key) => where(`/spike/${key}`)) } : {}),
    ...(raw.soak ? { soak: soakCriteria(raw.soak, stages, (key) => where(`/soak/${key}`)) } : {}),
  };
}

// The soak block, its stage checked against the stages and its window against the stage's length.
function soakCriteria(
  raw: NonNullable<RawScenario['soak']>,
  stages: { name: string; durationMs: number }[],
  where: (key: string) => string,
): SoakCriteria {
  const names = stages.map((s) => s.name);
  const stage = stages.find((s) => s.name === (raw.stage ?? names.at(-1)));
  if (!stage)
    throw cliErrors.create(
      'HR_SCENARIO_INVALID',
      `${where('stage')}: soak.stage "${raw.stage}" is not a stage (${names.join(', ')})`,
    );
  const windowMs = raw.window ? parseDuration(raw.window) : Math.max(10_000, stage.durationMs / 10);
  // A trend and a spread need at least three windows; fewer is a soak too short to say anything.
  if (windowMs * 3 > stage.durationMs)
    throw cliErrors.create(
      'HR_SCENARIO_INVALID',
      `${where(raw.window ? 'window' : 'stage')}: soak stage "${stage.name}" (${stage.durationMs / 1000} s) holds fewer than 3 windows of ${windowMs / 1000} s`,
    );
  const scrapeMs = parseDuration(raw.scrapeEvery ?? '10s');
  if (scrapeMs < 1000 || scrapeMs * 3 > stage.durationMs)
    throw cliErrors.create(
      'HR_SCENARIO_INVALID',
      `${where('scrapeEvery')}: soak.scrapeEvery ${raw.scrapeEvery ?? '10s'} must be at least 1 s and leave 3 samples in "${stage.name}"`,
    );
  return {
    stage: stage.name,
    windowMs,
    scrapeMs,
    metricsPath: raw.metrics ?? '/metrics',
    ...(raw.rssSlope ? { rssSlopeMBPerHour: Number.parseFloat(raw.rssSlope) } : {}),
    p95Drift: raw.p95Drift === undefined ? 0.1 : parseRatio(raw.p95Drift).value,
  };
}

// The spike block, its stage names checked against the stages: a name that is not there is the file's mistake.
function spikeCriteria(
  raw: NonNullable<RawScenario['spike']>,
  stages: { name: string }[],
  where: (key: string) => string,
): SpikeCriteria {
  const names = stages.map((s) => s.name);
  const index = names.indexOf(raw.stage);
  if (index < 0)
    throw cliErrors.create(
      'HR_SCENARIO_INVALID',
      `${where('stage')}: spike.stage "${raw.stage}" is not a stage (${names.join(', ')})`,
    );
  if (index === names.length - 1)
    throw cliErrors.create(
      'HR_SCENARIO_INVALID',
      `${where('stage')}: spike.stage "${raw.stage}" needs a stage after it, to recover in`,
    );
  const baseline = raw.baseline ?? names[index - 1];
  if (baseline === undefined || !names.includes(baseline) || baseline === raw.stage)
    throw cliErrors.create(
      'HR_SCENARIO_INVALID',
      `${where(raw.baseline ? 'baseline' : 'stage')}: spike needs a baseline stage other than the spike (spike.baseline, or a stage before it)`,
    );
  return {
    stage: raw.stage,
    baseline,
    recoveryMs: parseDuration(raw.recovery ?? '5s'),
    p99Factor: raw.p99Factor ?? 2,
    recoveryFactor: raw.recoveryFactor ?? 1.2,
    refusals: raw.refusals ?? [429, 503],
  };
}

/**
 * Reads a scenario's YAML, following `extends: other.yaml` (relative to the file): the base's keys, then this
 * file's keys on top (shallow), so load profiles can share one set of flows. A problem is located in the file
 * that wrote the top-level key it is under.
 */
async function readRaw(file: string, seen = new Set<string>()): Promise<RawSource> {
  if (seen.has(file)) throw cliErrors.create('HR_SCENARIO_INVALID', `${file}: extends itself in a cycle`);
  seen.add(file);
  const yaml = readYaml(await readFile(file, 'utf8'));
  const first = yaml.errors[0];
  if (first) {
    throw cliErrors.create('HR_SCENARIO_INVALID', `${file}:${first.line}:${first.column}: ${first.message}`);
  }
  const here = (pointer: string) => `${file}:${yaml.lineOf(pointer) ?? 1}`;
  const raw = yaml.value;
  if (!raw || typeof raw !== 'object' || !('extends' in raw)) return { raw, where: here };
  const { extends: base, ...own } = raw as { extends: unknown };
  if (typeof base !== 'string')
    throw cliErrors.create('HR_SCENARIO_INVALID', `${here('/extends')}: "extends" must be a file name`);
  const parent = await readRaw(resolve(dirname(file), base), seen);
  // Paths in the base (feeds, spec) stay relative to the base's folder: the same folder here, by convention.
  return {
    raw: { ...(parent.raw as Record<string, unknown>), ...own },
    where: (pointer) => {
      const key = pointer.split('/')[1]?.replaceAll('~1', '/').replaceAll('~0', '~');
      return key !== undefined && !(key in own) ? parent.where(pointer) : here(pointer);
    },
  };
}

/** A step as written, `poll.every` and its defaults made plain (every 500 ms, at most 60 times). */
function toStep(step: RawStep): Step {
  if (step.poll === undefined) return step as Step;
  const { every, max, until } = step.poll;
  return { ...step, poll: { until, everyMs: parseDuration(every ?? '500ms'), max: max ?? 60 } };
}

function toStage(
  stage: RawStage,
  model: 'open' | 'closed',
  where: (key: string) => string,
): OpenStage | ClosedStage {
  const refuse = (key: string, why: string) =>
    cliErrors.create('HR_SCENARIO_INVALID', `${where(key)}: stage "${stage.name}": ${why}`);
  const durationMs = parseDuration(stage.duration);
  if (durationMs <= 0) throw refuse('duration', 'a stage of 0 s measures nothing');
  const judge = stage.judge ?? true;
  if (model === 'open') {
    if (!stage.rate) throw refuse('', 'an open-model stage needs "rate"');
    const rate = parseRate(stage.rate);
    const to = stage.to === undefined ? undefined : parseRate(stage.to);
    // A rate of 0 sends nothing, and a run that sends nothing passes every budget: refuse it.
    if (rate <= 0 && !(to && to > 0)) throw refuse('rate', `rate ${stage.rate} sends no request`);
    return { name: stage.name, durationMs, judge, rate, ...(to !== undefined ? { to } : {}) };
  }
  if (stage.vus === undefined) throw refuse('', 'a closed-model stage needs "vus"');
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
