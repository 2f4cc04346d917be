// Loads headroom.yaml: YAML → JSON Schema check → meaning checks → a normalised Spec. Every problem is
// reported at once, each with the path in the file and the rule it breaks.

import { readFile } from 'node:fs/promises';
import { Ajv } from 'ajv';
import type { DegradeRule } from './degrader.ts';
import { sloErrors } from './errors.ts';
import { specSchema } from './schema.ts';
import {
  type ErrorBudget,
  type Objective,
  type Percentile,
  percentiles,
  type RumBudget,
  type Spec,
  type SpecProblem,
  type StatusPattern,
} from './spec.ts';
import { parseDuration, parseRate, parseRatio } from './units.ts';
import { readYaml, type YamlSource } from './yaml-source.ts';

interface RawObjective {
  name: string;
  route: string;
  journey?: string;
  latency?: Partial<Record<Percentile, string>>;
  errors?: string | number | { ratio: string | number; statuses?: StatusPattern[] };
  availability?: string | number;
  throughput?: string;
  phases?: Record<string, string>;
}

interface RawRum {
  journey: string;
  target?: string | number;
  ttfb?: string;
  fcp?: string;
  lcp?: string;
  inp?: string;
  cls?: number;
}

interface RawDegradeRule {
  name: string;
  objective: string;
  features: string[];
  watch?: Percentile[];
  breach?: { for?: string };
  restore?: { below?: string | number; for?: string };
  hold?: string;
  window?: string;
  min_samples?: number;
}

interface RawSpec {
  service: string;
  window?: string;
  objectives: RawObjective[];
  degrade?: RawDegradeRule[];
  telemetry?: { tenants?: { top: number }; max_series?: number };
  tracing?: { golden?: string[]; max_per_second?: number; baggage?: string[] };
  rum?: RawRum[];
}

const validate = new Ajv({ allErrors: true, strict: true, strictRequired: false }).compile<RawSpec>(
  specSchema,
);

/**
 * Reads and checks a spec file.
 *
 * @example
 * const spec = await loadSpec('apps/casebook/headroom.yaml');
 * spec.objectives.find((o) => o.route === 'GET /v1/cases/search')?.latency.p95; // 60 (ms)
 */
export async function loadSpec(path: string): Promise<Spec> {
  return parseSpec(await readFile(path, 'utf8'), path);
}

/**
 * Checks spec text; throws HR_SPEC_INVALID listing every problem (`context.problems`).
 *
 * @example
 * parseSpec('service: x\nobjectives: [{ name: a, route: GET /a, latency: { p95: 100ms } }]');
 */
export function parseSpec(text: string, source = 'headroom.yaml'): Spec {
  const yaml = readYaml(text);
  if (yaml.errors.length > 0) {
    fail(
      source,
      yaml.errors.map((e) => ({
        path: `line ${e.line}, column ${e.column}`,
        rule: 'yaml',
        message: e.message,
      })),
    );
  }
  const raw: unknown = yaml.value;
  if (!validate(raw)) {
    fail(
      source,
      (validate.errors ?? []).map((e) => ({
        path: e.instancePath || '/',
        rule: e.keyword,
        message: `${e.message ?? 'is invalid'}${e.params && 'pattern' in e.params ? ` (${describe(e.schemaPath)})` : ''}`,
        line: yaml.lineOf(e.instancePath),
      })),
    );
  }
  return normalise(raw, source, yaml);
}

function normalise(raw: RawSpec, source: string, yaml: YamlSource): Spec {
  const problems: SpecProblem[] = [];
  const names = new Map<string, number>();
  const routes = new Map<string, number>();
  const objectives = raw.objectives.map((o, i): Objective => {
    const [method, route] = o.route.split(' ') as [string, string];
    const here = `/objectives/${i}`;
    if (names.has(o.name))
      problems.push({
        path: `${here}/name`,
        rule: 'unique',
        message: `name "${o.name}" is also used by /objectives/${names.get(o.name)}`,
      });
    if (routes.has(o.route))
      problems.push({
        path: `${here}/route`,
        rule: 'unique',
        message: `route "${o.route}" is also used by /objectives/${routes.get(o.route)}`,
      });
    names.set(o.name, i);
    routes.set(o.route, i);
    const latency: Partial<Record<Percentile, number>> = {};
    let previous: [Percentile, number] | undefined;
    for (const p of percentiles) {
      const text = o.latency?.[p];
      if (text === undefined) continue;
      latency[p] = parseDuration(text);
      if (previous && latency[p] < previous[1]) {
        problems.push({
          path: `${here}/latency/${p}`,
          rule: 'monotonic',
          message: `${p} (${text}) is below ${previous[0]}`,
        });
      }
      previous = [p, latency[p]];
    }
    return {
      name: o.name,
      method,
      route,
      ...(o.journey ? { journey: o.journey } : {}),
      latency,
      ...(o.errors !== undefined ? { errors: errorBudget(o.errors) } : {}),
      ...(o.availability !== undefined ? { availability: parseRatio(o.availability) } : {}),
      ...(o.throughput !== undefined ? { throughput: parseRate(o.throughput) } : {}),
      ...(o.phases !== undefined
        ? { phases: Object.fromEntries(Object.entries(o.phases).map(([k, v]) => [k, parseDuration(v)])) }
        : {}),
    };
  });
  const journeys = new Set(objectives.flatMap((o) => (o.journey ? [o.journey] : [])));
  (raw.tracing?.golden ?? []).forEach((journey, i) => {
    if (!journeys.has(journey))
      problems.push({
        path: `/tracing/golden/${i}`,
        rule: 'reference',
        message: `no objective has journey "${journey}"`,
      });
  });
  const rumJourneys = new Set<string>();
  const rum = (raw.rum ?? []).map((r, i): RumBudget => {
    if (rumJourneys.has(r.journey))
      problems.push({
        path: `/rum/${i}/journey`,
        rule: 'unique',
        message: `journey "${r.journey}" is listed twice`,
      });
    rumJourneys.add(r.journey);
    const budgets: RumBudget['budgets'] = {};
    for (const [key, metric] of [
      ['ttfb', 'TTFB'],
      ['fcp', 'FCP'],
      ['lcp', 'LCP'],
      ['inp', 'INP'],
    ] as const) {
      const text = r[key];
      if (text !== undefined) budgets[metric] = parseDuration(text);
    }
    if (r.cls !== undefined) budgets.CLS = r.cls;
    return { journey: r.journey, target: parseRatio(r.target ?? '75%'), budgets };
  });
  const ruleNames = new Set<string>();
  const degrade = (raw.degrade ?? []).flatMap((r, i): DegradeRule[] => {
    const here = `/degrade/${i}`;
    if (ruleNames.has(r.name)) {
      problems.push({ path: `${here}/name`, rule: 'unique', message: `rule "${r.name}" is named twice` });
    }
    ruleNames.add(r.name);
    const objective = objectives.find((o) => o.name === r.objective);
    if (!objective) {
      problems.push({
        path: `${here}/objective`,
        rule: 'reference',
        message: `no objective is named "${r.objective}"`,
      });
      return [];
    }
    const unset = (r.watch ?? []).filter((p) => objective.latency[p] === undefined);
    if (unset.length > 0) {
      problems.push({
        path: `${here}/watch`,
        rule: 'reference',
        message: `objective "${r.objective}" sets no ${unset.join(', ')} budget`,
      });
    }
    if (Object.keys(objective.latency).length === 0 && objective.errors === undefined) {
      problems.push({
        path: `${here}/objective`,
        rule: 'reference',
        message: `objective "${r.objective}" has no latency budget nor error budget to watch`,
      });
    }
    return [
      {
        name: r.name,
        objective,
        features: r.features,
        ...(r.watch !== undefined ? { percentiles: r.watch } : {}),
        ...(r.breach?.for !== undefined ? { breachFor: parseDuration(r.breach.for) } : {}),
        ...(r.restore?.below !== undefined ? { restoreBelow: parseRatio(r.restore.below).value } : {}),
        ...(r.restore?.for !== undefined ? { restoreFor: parseDuration(r.restore.for) } : {}),
        ...(r.hold !== undefined ? { minHold: parseDuration(r.hold) } : {}),
        ...(r.window !== undefined ? { window: parseDuration(r.window) } : {}),
        ...(r.min_samples !== undefined ? { minSamples: r.min_samples } : {}),
      },
    ];
  });
  if (problems.length > 0)
    fail(
      source,
      problems.map((p) => ({ ...p, line: yaml.lineOf(p.path) })),
    );
  return {
    service: raw.service,
    windowMs: parseDuration(raw.window ?? '30d'),
    objectives,
    degrade,
    telemetry: {
      tenantTop: raw.telemetry?.tenants?.top ?? 0,
      maxSeries: raw.telemetry?.max_series ?? 10_000,
    },
    tracing: {
      golden: raw.tracing?.golden ?? [],
      maxPerSecond: raw.tracing?.max_per_second ?? 100,
      baggage: raw.tracing?.baggage ?? [],
    },
    rum,
  };
}

function errorBudget(raw: NonNullable<RawObjective['errors']>): ErrorBudget {
  if (typeof raw === 'object') return { ...parseRatio(raw.ratio), statuses: raw.statuses ?? ['5xx'] };
  return { ...parseRatio(raw), statuses: ['5xx'] };
}

function describe(schemaPath: string): string {
  if (schemaPath.includes('phases')) return 'a phase name such as db, and a duration such as 20ms';
  if (schemaPath.includes('baggage')) return 'a lower-case baggage key such as app.client';
  if (
    schemaPath.includes('latency') ||
    schemaPath.includes('window') ||
    schemaPath.includes('rum') ||
    schemaPath.includes('phases')
  )
    return 'a duration such as 250ms, 1.5s, 5m, 30d';
  if (schemaPath.includes('throughput')) return 'a rate such as 200/s';
  if (schemaPath.includes('route')) return 'METHOD /route/template, e.g. GET /v1/cases/:id';
  if (schemaPath.includes('statuses')) return 'a status code such as 429, or a class such as 5xx';
  if (schemaPath.includes('errors') || schemaPath.includes('availability'))
    return 'a ratio such as 0.1% or 0.001';
  return 'see the spec format in the README of @headroom/core (## slo)';
}

function fail(source: string, problems: SpecProblem[]): never {
  const list = problems
    .map((p) => `  ${p.line ? `line ${p.line}, ` : ''}${p.path}: ${p.message} [${p.rule}]`)
    .join('\n');
  throw sloErrors.create('HR_SPEC_INVALID', `${source} is not a valid spec:\n${list}`, {
    context: { source, problems },
  });
}
