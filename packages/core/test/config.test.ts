// The config module on real files in a temporary directory: precedence of defaults, file and environment; YAML
// and JSON; a rename-save, a Kubernetes ConfigMap symlink swap and an in-place edit found by the poll alone;
// invalid files refused with every problem while the config in force stays; close() leaving nothing behind.
// Debounce and poll run on a FakeClock; only the file system's own events and reads are waited for, with until().

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { until } from '@headroom/dev-servers/until';
import { FakeClock } from '../src/clock/index.ts';
import {
  type Config,
  type ConfigChange,
  type ConfigOptions,
  type ConfigRejection,
  type ConfigReload,
  configErrors,
  createConfig,
} from '../src/config/index.ts';
import { isHeadroomError } from '../src/errors/index.ts';

interface Settings {
  name: string;
  tiers: { free: { pageCap: number; rate: number }; pro: { pageCap: number; rate: number } };
  search: { enabled: boolean; mode: 'fts' | 'trgm' };
  hosts: string[];
}

const tier = (pageCap: number) => ({
  type: 'object',
  default: {},
  additionalProperties: false,
  properties: {
    pageCap: { type: 'integer', minimum: 1, default: pageCap },
    rate: { type: 'number', exclusiveMinimum: 0, default: 5 },
  },
});

// Shaped as TypeBox writes it: literals as anyOf of const, objects with defaults so nested defaults fill in.
const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string', minLength: 1, default: 'casebook' },
    tiers: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: { free: tier(25), pro: tier(100) },
    },
    search: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean', default: true },
        mode: {
          anyOf: [
            { type: 'string', const: 'fts' },
            { type: 'string', const: 'trgm' },
          ],
          default: 'fts',
        },
      },
    },
    hosts: { type: 'array', items: { type: 'string', format: 'hostname' }, default: [] },
  },
};

const env = {
  CASEBOOK_PAGE_CAP: 'tiers.free.pageCap',
  CASEBOOK_SEARCH: 'search.enabled',
  CASEBOOK_HOSTS: 'hosts',
};

const dirs: string[] = [];
const configs: Config<unknown>[] = [];
after(async () => {
  await Promise.all(configs.map((c) => c.close()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'headroom-config-'));
  dirs.push(dir);
  return dir;
}

async function open(options: Partial<ConfigOptions> & { dir: string }): Promise<Config<Settings>> {
  const config = await createConfig<Settings>({ schema, file: 'casebook.yaml', envSource: {}, ...options });
  configs.push(config as Config<unknown>);
  return config;
}

/** Moves the clock on (debounce, poll) until `condition` holds: the file system's events and reads are real. */
async function driveUntil(clock: FakeClock, condition: () => boolean, what: string): Promise<void> {
  await until(
    async () => {
      await clock.tick(100);
      return condition();
    },
    { what, timeout: 10_000 },
  );
}

function record(config: Config<Settings>) {
  const changes: ConfigChange<Settings>[] = [];
  const rejections: ConfigRejection[] = [];
  const reloads: ConfigReload[] = [];
  config.onChange((e) => changes.push(e));
  config.onReject((e) => rejections.push(e));
  config.onReload((e) => reloads.push(e));
  return { changes, rejections, reloads };
}

test('defaults < file < environment, with values read as the schema types their path', async () => {
  const dir = await tempDir();
  await writeFile(
    join(dir, 'casebook.yaml'),
    'tiers:\n  free:\n    pageCap: 10\n  pro:\n    pageCap: 200\nsearch:\n  mode: trgm\n',
  );
  const config = await open({
    dir,
    env,
    envSource: {
      CASEBOOK_PAGE_CAP: '40',
      CASEBOOK_SEARCH: 'false',
      CASEBOOK_HOSTS: '["a.example"]',
      OTHER: 'x',
    },
    clock: new FakeClock(),
  });
  assert.deepEqual(config.get(), {
    name: 'casebook', // default
    tiers: {
      free: { pageCap: 40, rate: 5 }, // environment over file, default
      pro: { pageCap: 200, rate: 5 }, // file, default
    },
    search: { enabled: false, mode: 'trgm' }, // environment (a boolean), file
    hosts: ['a.example'], // environment (JSON for an array)
  });
  assert.equal(config.get(), config.get(), 'the same snapshot until a reload swaps it');
  assert.ok(Object.isFrozen(config.get().tiers.free) && Object.isFrozen(config.get().hosts), 'deeply frozen');
  assert.throws(() => {
    (config.get().tiers.free as { pageCap: number }).pageCap = 1;
  }, TypeError);
  assert.match(config.version, /^[0-9a-f]{12}$/);
  assert.match(config.stats().checksum, /^[0-9a-f]{64}$/);

  await writeFile(join(dir, 'casebook.yaml'), 'tiers:\n  pro:\n    pageCap: 300\n');
  assert.equal((await config.reload()).result, 'applied');
  assert.equal(config.get().tiers.free.pageCap, 40, 'the environment is laid over every new file');
  assert.deepEqual(config.get().hosts, ['a.example']);
  assert.equal(config.get().tiers.pro.pageCap, 300);
  assert.equal(config.get().search.mode, 'fts', 'a setting gone from the file is back at its default');
});

test('no file: defaults and environment, and that is not an error', async () => {
  const dir = await tempDir();
  const config = await open({ dir, env, envSource: { CASEBOOK_PAGE_CAP: '7' }, clock: new FakeClock() });
  assert.equal(config.get().tiers.free.pageCap, 7);
  assert.equal(config.get().tiers.pro.pageCap, 100);
  assert.equal(config.stats().checksum, 'none');
});

test('JSON and .yml files are read by their extension', async () => {
  const dir = await tempDir();
  await writeFile(join(dir, 'casebook.json'), '{ "name": "from-json", "tiers": { "pro": { "rate": 2.5 } } }');
  await writeFile(join(dir, 'casebook.yml'), 'name: from-yml\n');
  const json = await open({ dir, file: 'casebook.json', clock: new FakeClock() });
  const yml = await open({ dir, file: 'casebook.yml', clock: new FakeClock() });
  assert.equal(json.get().name, 'from-json');
  assert.equal(json.get().tiers.pro.rate, 2.5);
  assert.equal(yml.get().name, 'from-yml');
  assert.notEqual(json.version, yml.version);
});

test('the same config has the same version whatever the order of keys and the format', async () => {
  const dir = await tempDir();
  await writeFile(join(dir, 'a.yaml'), 'search: { mode: trgm }\nname: x\n');
  await writeFile(join(dir, 'b.json'), '{"name":"x","search":{"mode":"trgm"}}');
  const a = await open({ dir, file: 'a.yaml', clock: new FakeClock() });
  const b = await open({ dir, file: 'b.json', clock: new FakeClock() });
  assert.equal(a.version, b.version);
});

test('an invalid file at start throws HR_CONFIG_INVALID listing every problem with its path and line', async () => {
  const dir = await tempDir();
  await writeFile(
    join(dir, 'casebook.yaml'),
    [
      'name: ""',
      'tiers:',
      '  free:',
      '    pageCap: 0',
      '    rate: fast',
      '  enterprise: {}',
      'search:',
      '  mode: regex',
      'hosts: ["not a host!"]',
    ].join('\n'),
  );
  const error = await createConfig({
    schema,
    dir,
    file: 'casebook.yaml',
    env,
    envSource: { CASEBOOK_SEARCH: 'sometimes' },
  }).then(
    () => assert.fail('a bad config must not load'),
    (e: unknown) => e,
  );
  assert.ok(configErrors.is(error, 'HR_CONFIG_INVALID'));
  assert.equal(error.status, 400);
  const errors = (
    error.context as { errors: { path: string; keyword: string; line?: number; source: string }[] }
  ).errors;
  const seen = errors.map((e) => `${e.path} ${e.keyword}`);
  for (const expected of [
    '/name minLength',
    '/tiers/free/pageCap minimum',
    '/tiers/free/rate type',
    '/tiers/enterprise additionalProperties',
    '/search/mode anyOf',
    '/search/enabled type',
    '/hosts/0 format',
  ]) {
    assert.ok(seen.includes(expected), `${expected} in ${seen.join(', ')}`);
  }
  assert.equal(errors.find((e) => e.path === '/tiers/free/pageCap')?.line, 4);
  assert.equal(errors.find((e) => e.path === '/search/enabled')?.source, 'env CASEBOOK_SEARCH');
  assert.match(error.message, /line 4, \/tiers\/free\/pageCap: must be >= 1 \[minimum\]/);
  assert.match(error.message, /\/search\/enabled: must be boolean \[type\] \(from CASEBOOK_SEARCH\)/);
});

test('a file that does not parse, or is empty, throws at start with the line of the syntax error', async () => {
  const dir = await tempDir();
  await writeFile(join(dir, 'broken.yaml'), 'name: x\ntiers: [unclosed\n');
  await writeFile(join(dir, 'broken.json'), '{"name": }');
  await writeFile(join(dir, 'empty.yaml'), '');
  for (const [file, pattern] of [
    ['broken.yaml', /line \d, \/: column \d+: .*\[parse\]/],
    ['broken.json', /\/: .*JSON.*\[parse\]/],
    ['empty.yaml', /must be a mapping of settings \(the file is empty\) \[type\]/],
  ] as const) {
    await assert.rejects(createConfig({ schema, dir, file }), (e: unknown) => {
      assert.ok(isHeadroomError(e) && e.code === 'HR_CONFIG_INVALID', String(e));
      assert.match(e.message, pattern);
      return true;
    });
  }
});

test('bad options throw HR_INVALID_OPTION naming the option, an env path the schema lacks included', async () => {
  const dir = await tempDir();
  const cases: [Partial<ConfigOptions>, RegExp][] = [
    [{ env: { CASEBOOK_X: 'tiers.free.pagecap' } }, /option "env.CASEBOOK_X" must be a path to a property/],
    [{ env: { CASEBOOK_X: 'tiers..pageCap' } }, /option "env.CASEBOOK_X" must be a dotted path/],
    [{ file: 'casebook.toml' }, /option "file"/],
    [{ file: 'sub/casebook.yaml' }, /option "file"/],
    [{ debounce: -1 }, /option "debounce"/],
    [{ pollInterval: 0 }, /option "pollInterval"/],
    [{ schema: { type: 'object', properties: { a: { type: 'nope' } } } }, /option "schema"/],
  ];
  for (const [options, message] of cases) {
    await assert.rejects(
      createConfig({ schema, dir, file: 'casebook.yaml', ...options }),
      (e: unknown) => isHeadroomError(e) && e.code === 'HR_INVALID_OPTION' && message.test(e.message),
    );
  }
});

test('an invalid edit is refused with every path; the config in force stays; a fix is applied', async () => {
  const dir = await tempDir();
  const path = join(dir, 'casebook.yaml');
  await writeFile(path, 'name: good\n');
  const clock = new FakeClock();
  const config = await open({ dir, clock, watch: false, pollInterval: Number.POSITIVE_INFINITY });
  const { changes, rejections, reloads } = record(config);
  const good = config.get();
  const version = config.version;

  await writeFile(path, 'name: 5\ntiers:\n  free:\n    pageCap: -1\n    burst: 3\n');
  const outcome = await config.reload();
  assert.equal(outcome.result, 'rejected');
  assert.deepEqual(outcome.errors?.map((e) => `line ${e.line} ${e.path} ${e.keyword}`).sort(), [
    'line 1 /name type',
    'line 4 /tiers/free/pageCap minimum',
    'line 5 /tiers/free/burst additionalProperties',
  ]);
  assert.equal(config.get(), good, 'get() still returns the config in force');
  assert.equal(config.version, version);
  assert.equal(rejections.length, 1);
  assert.deepEqual(rejections[0]?.errors, outcome.errors);
  assert.equal(rejections[0]?.version, version);
  assert.deepEqual(changes, []);
  assert.deepEqual(config.stats().reloads, { applied: 0, unchanged: 0, rejected: 1 });

  await writeFile(path, 'name: fixed\n');
  assert.equal((await config.reload()).result, 'applied');
  assert.equal(config.get().name, 'fixed');
  assert.deepEqual(config.stats().reloads, { applied: 1, unchanged: 0, rejected: 1 });
  assert.deepEqual(
    reloads.map((r) => `${r.trigger} ${r.result}`),
    ['manual rejected', 'manual applied'],
  );
});

test('subscribers get { prev, next }; unchanged bytes, or new bytes with the same meaning, notify nobody', async () => {
  const dir = await tempDir();
  const path = join(dir, 'casebook.yaml');
  await writeFile(path, 'name: one\n');
  const clock = new FakeClock({ now: 1_000 });
  const config = await open({ dir, clock, watch: false, pollInterval: Number.POSITIVE_INFINITY });
  const { changes, reloads } = record(config);
  const seenInListener: Settings[] = [];
  config.onChange(() => seenInListener.push(config.get()));
  const one = config.get();
  assert.equal(config.loadedAt, 1_000);

  assert.equal((await config.reload()).result, 'unchanged');
  await writeFile(path, '# a comment changes the bytes, not the config\nname:   one\n');
  const checksum = config.stats().checksum;
  assert.equal((await config.reload()).result, 'unchanged');
  assert.notEqual(config.stats().checksum, checksum, 'the checksum follows the file');
  assert.equal(config.get(), one);
  assert.equal(changes.length, 0);

  clock.advance(500);
  await writeFile(path, 'name: two\n');
  const outcome = await config.reload();
  assert.equal(outcome.result, 'applied');
  assert.equal(outcome.version, config.version);
  assert.equal(changes.length, 1);
  assert.equal(changes[0]?.prev, one);
  assert.equal(changes[0]?.next, config.get());
  assert.equal(changes[0]?.next.name, 'two');
  assert.equal(seenInListener[0], changes[0]?.next, 'listeners run after the swap');
  assert.equal(config.loadedAt, 1_500);
  assert.deepEqual(
    reloads.map((r) => r.result),
    ['unchanged', 'unchanged', 'applied'],
  );
  assert.deepEqual(config.stats(), {
    reloads: { applied: 1, unchanged: 2, rejected: 0 },
    version: config.version,
    checksum: config.stats().checksum,
    loadedAt: 1_500,
    watching: false,
  });
});

test('a rename-save (write a temporary file, rename it over) is seen by the directory watcher', async () => {
  const dir = await tempDir();
  const path = join(dir, 'casebook.yaml');
  await writeFile(path, 'name: before\n');
  const clock = new FakeClock();
  // No poll: only fs.watch can notice.
  const config = await open({ dir, clock, pollInterval: Number.POSITIVE_INFINITY });
  const { reloads } = record(config);
  assert.equal(config.stats().watching, true);
  assert.equal(clock.pending, 0);

  await writeFile(join(dir, '.casebook.yaml.swp'), 'name: after\n');
  await rename(join(dir, '.casebook.yaml.swp'), path);
  await driveUntil(clock, () => config.get().name === 'after', 'the rename-save to be applied');
  assert.ok(reloads.every((r) => r.trigger === 'watch'));
  assert.equal(config.stats().reloads.applied, 1);
});

test('a Kubernetes ConfigMap update (the ..data symlink swapped by a rename) is seen by the watcher', async () => {
  const dir = await tempDir();
  await mkdir(join(dir, '..2026_12_05_10_00_00.1'));
  await writeFile(join(dir, '..2026_12_05_10_00_00.1', 'casebook.yaml'), 'name: first\n');
  await symlink('..2026_12_05_10_00_00.1', join(dir, '..data'));
  await symlink('..data/casebook.yaml', join(dir, 'casebook.yaml'));
  const clock = new FakeClock();
  const config = await open({ dir, clock, pollInterval: Number.POSITIVE_INFINITY });
  assert.equal(config.get().name, 'first');

  // What the kubelet does: a new timestamped directory, a temporary link to it renamed over ..data, the old
  // directory removed. casebook.yaml itself, a link to ..data/casebook.yaml, never changes.
  await mkdir(join(dir, '..2026_12_05_10_05_00.2'));
  await writeFile(join(dir, '..2026_12_05_10_05_00.2', 'casebook.yaml'), 'name: second\n');
  await symlink('..2026_12_05_10_05_00.2', join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  await rm(join(dir, '..2026_12_05_10_00_00.1'), { recursive: true });
  await driveUntil(clock, () => config.get().name === 'second', 'the ConfigMap swap to be applied');
  assert.equal(config.stats().reloads.rejected, 0);
});

test('with no watcher, the stat poll alone finds an edit in place', async () => {
  const dir = await tempDir();
  const path = join(dir, 'casebook.yaml');
  await writeFile(path, 'name: before\n');
  const clock = new FakeClock();
  const config = await open({ dir, clock, watch: false, pollInterval: 1_000, debounce: 100 });
  const { reloads } = record(config);
  assert.equal(config.stats().watching, false);
  assert.equal(clock.pending, 1, 'the poll timer');

  await writeFile(path, 'name: after\n'); // same inode, new size and mtime
  await driveUntil(clock, () => config.get().name === 'after', 'the poll to find the edit');
  assert.deepEqual(
    reloads.map((r) => `${r.trigger} ${r.result}`),
    ['poll applied'],
  );
  // The poll compares with what the reload read: nothing new, no more reloads however long it runs.
  await clock.tick(10_000);
  await config.reload();
  assert.deepEqual(config.stats().reloads, { applied: 1, unchanged: 1, rejected: 0 });
});

test('a directory that appears later is watched once the poll finds it; its file is applied', async () => {
  const parent = await tempDir();
  const dir = join(parent, 'config');
  const clock = new FakeClock();
  const config = await open({ dir, clock, env, envSource: { CASEBOOK_PAGE_CAP: '9' } });
  assert.equal(config.stats().watching, false);
  assert.equal(config.get().name, 'casebook');

  await mkdir(dir);
  await writeFile(join(dir, 'casebook.yaml'), 'name: late\ntiers: { free: { pageCap: 1 } }\n');
  await driveUntil(clock, () => config.get().name === 'late', 'the new file to be applied');
  assert.equal(config.stats().watching, true);
  assert.equal(config.get().tiers.free.pageCap, 9, 'the environment still wins over the file');
});

test('a burst of writes is one reload, and nothing reloads before `debounce` has passed on the clock', async () => {
  const dir = await tempDir();
  const path = join(dir, 'casebook.yaml');
  await writeFile(path, 'name: v1\n');
  const clock = new FakeClock();
  const config = await open({ dir, clock, pollInterval: Number.POSITIVE_INFINITY, debounce: 200 });
  const { reloads } = record(config);

  // Synchronous writes: their events are queued before the watcher reads any of them.
  for (const v of ['v2', 'v3', 'v4']) writeFileSync(path, `name: ${v}\n`);
  await until(() => clock.pending > 0, { what: 'the watcher to see the writes' });
  await clock.tick(199);
  assert.deepEqual(reloads, [], 'still inside the debounce');
  await driveUntil(clock, () => config.get().name === 'v4', 'the burst to be applied');
  assert.equal(config.stats().reloads.applied, 1);
});

test('a refused file is reported once: stray events in the directory do not refuse it again', async () => {
  const dir = await tempDir();
  const path = join(dir, 'casebook.yaml');
  await writeFile(path, 'name: good\n');
  const clock = new FakeClock();
  const config = await open({ dir, clock, pollInterval: Number.POSITIVE_INFINITY });
  const { rejections } = record(config);

  await writeFile(path, 'name: [\n');
  await driveUntil(clock, () => rejections.length === 1, 'the bad file to be refused');
  assert.equal(rejections[0]?.errors[0]?.keyword, 'parse');
  assert.equal(rejections[0]?.trigger, 'watch');

  await writeFile(join(dir, 'unrelated.txt'), 'x');
  await until(() => clock.pending > 0, { what: 'the watcher to see the unrelated file' });
  await clock.tick(100);
  // A manual reload runs after the automatic one: by then that one has finished.
  assert.equal((await config.reload()).result, 'rejected', 'asked by hand, it is refused again');
  assert.equal(rejections.length, 2);
  assert.deepEqual(config.stats().reloads, { applied: 0, unchanged: 0, rejected: 2 });
  assert.equal(config.get().name, 'good');
});

test('close() stops the watcher, the poll and a pending reload: nothing is left on the clock', async () => {
  const dir = await tempDir();
  const path = join(dir, 'casebook.yaml');
  await writeFile(path, 'name: one\n');
  const clock = new FakeClock();
  const config = await open({ dir, clock });
  const witnessClock = new FakeClock();
  const witness = await open({ dir, clock: witnessClock, pollInterval: Number.POSITIVE_INFINITY });
  assert.equal(clock.pending, 1, 'the poll');

  await writeFile(path, 'name: two\n');
  await until(() => clock.pending === 2, { what: 'a reload to be pending' });
  await config.close();
  assert.equal(clock.pending, 0, 'poll and debounce cancelled');

  // The witness watches the same directory: once it has seen the next edit, so would a watcher left running.
  await writeFile(path, 'name: three\n');
  // One inotify watch serves both watchers of a directory: an event reaches both in the same turn.
  await until(() => witnessClock.pending > 0, { what: 'the witness to see the edit' });
  assert.equal(clock.pending, 0, 'no watcher scheduled a reload');
  await clock.tick(10_000);
  await config.close(); // twice is fine; it waits for a reload under way, if one had started
  assert.equal(clock.pending, 0, 'no poll');
  assert.equal(config.get().name, 'one');
  await witness.close();
  assert.equal(witnessClock.pending, 0);
});

test('a config on the system clock never keeps the process alive', async () => {
  const dir = await tempDir();
  await writeFile(join(dir, 'casebook.yaml'), 'name: x\n');
  const module = pathToFileURL(join(import.meta.dirname, '../src/config/index.ts')).href;
  const script = `
    const { createConfig } = await import(${JSON.stringify(module)});
    const config = await createConfig({ schema: { type: 'object' }, dir: ${JSON.stringify(dir)}, file: 'casebook.yaml' });
    console.log(config.stats().watching, config.get().name);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk;
  });
  try {
    // Generous: a loaded machine takes seconds to start Node; a process kept alive never exits at all.
    await until(() => child.exitCode !== null, { what: 'the process to exit by itself', timeout: 60_000 });
  } finally {
    if (child.exitCode === null) child.kill();
  }
  assert.equal(child.exitCode, 0);
  assert.equal(output.trim(), 'true x', 'it was watching and polling');
});
