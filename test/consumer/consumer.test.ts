// Installs Headroom as a user would: `npm pack` of @headroom/core, @headroom/fastify and @headroom/cli, the
// tarballs installed together with Fastify 5 from the registry into a fresh project under the OS temp dir, and
// there, on every supported Node line: the plugin registered with a cache, a rate limit and breakers on routes,
// /metrics and /health served, `npx headroom --help`, `headroom db lint` and a short `headroom load` against the app. The project's
// TypeScript is type-checked against the published declarations, and publint and arethetypeswrong judge the
// tarballs. No PostgreSQL or Redis: memory stores only. Any failure here means a package is not installable.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve, sep } from 'node:path';
import { after, before, test } from 'node:test';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';

const root = resolve(import.meta.dirname, '../..');
const fixture = join(import.meta.dirname, 'fixture');
const published = ['core', 'fastify', 'cli'] as const;
/** Node lines the packages support; each is tested, the missing ones installed from the npm `node` package. */
const supportedNodeLines = [22, 24] as const;
const minutes = (n: number) => n * 60_000;

interface PackedFile {
  path: string;
  size: number;
  mode: number;
}
interface Packed {
  name: string;
  version: string;
  filename: string;
  files: PackedFile[];
}
interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  engines?: { node?: string };
  bin?: Record<string, string>;
  exports: Record<string, Record<string, string>>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

let work: string;
let consumer: string;
let tarballs: string;
let packed: Packed[];
const nodes = new Map<number, string>();

before(
  async () => {
    work = await mkdtemp(join(tmpdir(), 'headroom-consumer-'));
    assert.ok(!`${work}${sep}`.startsWith(`${root}${sep}`), `the consumer project must be outside ${root}`);
    tarballs = join(work, 'tarballs');
    consumer = join(work, 'app');
    mkdirSync(tarballs);
    cpSync(fixture, consumer, { recursive: true });
    writeFileSync(
      join(consumer, 'package.json'),
      `${JSON.stringify({ name: 'headroom-consumer', private: true, type: 'module' }, null, 2)}\n`,
    );

    // prepack builds each package (scripts/build-package.ts), exactly as `npm publish` would.
    const pack = await run(
      'npm',
      [
        'pack',
        '--json',
        '--pack-destination',
        tarballs,
        ...published.flatMap((p) => ['-w', `packages/${p}`]),
      ],
      { cwd: root, env: repoEnv() },
    );
    assert.equal(pack.code, 0, `npm pack failed:\n${pack.stderr}`);
    packed = JSON.parse(pack.stdout) as Packed[];
    assert.deepEqual(packed.map((p) => p.name).sort(), published.map((p) => `@headroom/${p}`).sort());

    const current = Number(process.versions.node.split('.')[0]);
    if ((supportedNodeLines as readonly number[]).includes(current)) nodes.set(current, process.execPath);
    const [install] = await Promise.all([
      // All tarballs in one install, as a user adds them: their @headroom/* ranges resolve to each other.
      npm(
        [
          'install',
          '--no-audit',
          '--no-fund',
          ...packed.map((p) => join(tarballs, p.filename)),
          'fastify@^5',
          '@types/node@^24',
        ],
        consumer,
      ),
      ...supportedNodeLines.map(async (line) => nodes.set(line, await nodeBinary(line))),
    ]);
    assert.equal(install.code, 0, `npm install in the consumer project failed:\n${install.stderr}`);
  },
  { timeout: minutes(10) },
);

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

test('each tarball holds dist/ JavaScript and declarations, README.md, LICENSE and package.json, nothing else', () => {
  for (const pkg of packed) {
    const paths = pkg.files.map((f) => f.path);
    const stray = paths.filter((p) => !/^(dist\/.+\.(js|d\.ts)|README\.md|LICENSE|package\.json)$/.test(p));
    assert.deepEqual(stray, [], `${pkg.name} ships files a user does not need`);
    assert.deepEqual(
      paths.filter((p) => /(^|\/)(test|tests|__tests__)\/|\.test\.(js|d\.ts)$/.test(p)),
      [],
      `${pkg.name} ships tests`,
    );
    for (const needed of ['README.md', 'LICENSE', 'package.json']) {
      assert.ok(paths.includes(needed), `${pkg.name} lacks ${needed}`);
    }
    const manifest = packedManifest(pkg);
    for (const [subpath, conditions] of Object.entries(manifest.exports)) {
      for (const condition of ['types', 'import']) {
        const target = conditions[condition]?.replace(/^\.\//, '');
        assert.ok(
          target && paths.includes(target),
          `${pkg.name} export '${subpath}' ${condition} is not in it`,
        );
      }
    }
    for (const bin of Object.values(manifest.bin ?? {})) {
      const file = pkg.files.find((f) => f.path === bin.replace(/^\.\//, ''));
      assert.ok(file, `${pkg.name} bin ${bin} is not in it`);
      assert.equal(file.mode & 0o111, 0o111, `${pkg.name} bin ${bin} is not executable`);
    }
  }
});

test('the published manifests: public, engines >= the oldest tested Node, ranges between the packages, ioredis an optional peer', () => {
  const byName = new Map(packed.map((p) => [p.name, packedManifest(p)]));
  for (const [name, manifest] of byName) {
    assert.notEqual(manifest.private, true, `${name} is private`);
    assert.equal(manifest.engines?.node, `>=${supportedNodeLines[0]}`, `${name} engines.node`);
    for (const [dependency, range] of Object.entries(manifest.dependencies ?? {})) {
      const sibling = byName.get(dependency);
      if (!sibling) continue;
      assert.match(
        range,
        /^\^\d+\.\d+\.\d+$/,
        `${name} → ${dependency} must be a caret range, not '${range}'`,
      );
      assert.equal(range, `^${sibling.version}`, `${name} → ${dependency} must accept the packed version`);
    }
  }
  const core = byName.get('@headroom/core')!;
  assert.ok(core.peerDependencies?.ioredis, 'ioredis is a peer of @headroom/core');
  assert.equal(core.peerDependenciesMeta?.ioredis?.optional, true, 'ioredis is optional');
  for (const name of byName.keys()) {
    const nested = join(consumer, 'node_modules', name, 'node_modules', '@headroom');
    assert.ok(
      !existsSync(nested),
      `${name} got its own copy of a @headroom package instead of the tarball's`,
    );
  }
});

test('publint finds nothing to report in any tarball', async () => {
  for (const pkg of packed) {
    const tarball = readFileSync(join(tarballs, pkg.filename));
    const { messages, pkg: manifest } = await publint({
      pack: { tarball: tarball.buffer.slice(tarball.byteOffset, tarball.byteOffset + tarball.byteLength) },
      level: 'suggestion',
      strict: true,
    });
    const report = messages.map((m) => `${m.type}: ${formatMessage(m, manifest) ?? m.code}`).join('\n');
    assert.equal(messages.length, 0, `publint on ${pkg.filename}:\n${report}`);
  }
});

test('arethetypeswrong: every entry point resolves with types for node16/nodenext ESM and bundlers', async () => {
  for (const pkg of packed) {
    // esm-only: the packages are ESM with `import` conditions; CommonJS and node10 resolution are not offered.
    const attw = await run(
      join(root, 'node_modules/.bin/attw'),
      [join(tarballs, pkg.filename), '--profile', 'esm-only', '--format', 'ascii'],
      { cwd: work, env: { ...repoEnv(), NO_COLOR: '1' } },
    );
    assert.equal(attw.code, 0, `attw on ${pkg.filename}:\n${attw.stdout}${attw.stderr}`);
  }
});

test('without the optional peer ioredis, every entry point but the /redis subpaths loads', async () => {
  const loaded = await node(24, ['without-ioredis.ts']);
  assert.equal(loaded.code, 0, loaded.stderr);
  const counts = JSON.parse(loaded.stdout) as Record<string, number>;
  for (const [module, count] of Object.entries(counts)) assert.ok(count > 0, `${module} exports nothing`);

  const redis = await node(24, ['redis.ts']);
  assert.notEqual(redis.code, 0, 'the /redis subpaths load only with ioredis installed');
  assert.match(redis.stderr, /ERR_MODULE_NOT_FOUND[\s\S]*'ioredis'|Cannot find package 'ioredis'/);
});

test('with ioredis installed, the /redis subpaths load, and the project and the README example type-check against the published declarations', async () => {
  const install = await npm(['install', '--no-audit', '--no-fund', 'ioredis@^5'], consumer);
  assert.equal(install.code, 0, install.stderr);
  const redis = await node(24, ['redis.ts']);
  assert.equal(redis.code, 0, redis.stderr);
  assert.deepEqual(Object.values(JSON.parse(redis.stdout)), [
    'function',
    'function',
    'function',
    'function',
    'function',
  ]);

  writeFileSync(join(consumer, 'readme-example.ts'), readmeExample());
  // strict, noUncheckedIndexedAccess, exactOptionalPropertyTypes, nodenext, skipLibCheck off (test/consumer/fixture/tsconfig.json)
  const tsc = await run(join(root, 'node_modules/.bin/tsc'), ['--noEmit', '-p', 'tsconfig.json'], {
    cwd: consumer,
    env: userEnv(24),
  });
  assert.equal(tsc.code, 0, `tsc --noEmit in the consumer project:\n${tsc.stdout}${tsc.stderr}`);
});

test("a user's own tests run the store contracts from @headroom/core/*/store-contract", async () => {
  const contracts = await node(24, ['--test', '--test-reporter=spec', 'store-contracts.ts']);
  assert.equal(contracts.code, 0, contracts.stdout + contracts.stderr);
  assert.match(contracts.stdout, /ℹ fail 0/);
  assert.doesNotMatch(contracts.stdout, /ℹ pass 0\b/);
});

for (const line of supportedNodeLines) {
  test(`on Node ${line}: the plugin serves cached, rate-limited and breaker-guarded routes, /metrics and /health; npx headroom --help and a short load`, async (t) => {
    const app = spawn(nodes.get(line)!, ['app.ts'], { cwd: consumer, env: userEnv(line), stdio: 'pipe' });
    t.after(() => stop(app));
    const { url: base, version } = await listening(app);
    assert.ok(version.startsWith(`v${line}.`), `the app runs on Node ${version}, not ${line}`);
    t.diagnostic(`consumer app at ${base} on Node ${version}`);

    const first = await getJson(`${base}/items/7`);
    const second = await getJson(`${base}/items/7`);
    assert.equal(first.status, 200);
    assert.deepEqual(first.body, { id: '7', loads: 1 });
    assert.deepEqual(second.body, { id: '7', loads: 1 }, 'the second read comes from the cache');

    const limited = [];
    for (let i = 0; i < 4; i++) limited.push(await getJson(`${base}/limited`));
    assert.deepEqual(
      limited.map((r) => r.status),
      [200, 200, 200, 429],
    );
    assert.equal(limited[3]!.body.code, 'HR_RATE_LIMITED');
    assert.match(limited[0]!.headers.get('ratelimit-policy') ?? '', /"tight";q=3/);

    const flaky = [];
    for (let i = 0; i < 3; i++) flaky.push(await getJson(`${base}/flaky`));
    assert.deepEqual(
      flaky.map((r) => r.status),
      [502, 502, 503],
    );
    assert.equal(flaky[2]!.body.code, 'HR_CIRCUIT_OPEN');

    const health = await getJson(`${base}/health`);
    assert.equal(health.status, 200);
    assert.equal(health.body.service, 'consumer');
    assert.equal(health.body.checks['breaker:flaky'][0].status, 'warn', 'an open optional breaker warns');
    assert.equal(health.body.checks['breaker:catalogue'][0].status, 'pass');
    assert.equal((await getJson(`${base}/health/live`)).body.status, 'pass');
    assert.equal((await getJson(`${base}/health/ready`)).status, 200);

    const metrics = await (await fetch(`${base}/metrics`)).text();
    for (const series of [
      'headroom_cache_requests_total{cache="items",tier="l1",result="hit"} 1',
      'headroom_breaker_state{breaker="flaky"} 2',
      'headroom_breaker_state{breaker="catalogue"} 0',
      'headroom_ratelimit_decisions_total{policy="tight",result="limited"',
      'http_requests_total{method="GET",route="/items/:id",code="200"} 2',
      'headroom_build_info{service="consumer",version="1.0.0"',
    ]) {
      assert.ok(metrics.includes(series), `/metrics lacks ${series}`);
    }

    const help = await run('npx', ['--no-install', 'headroom', '--help'], {
      cwd: consumer,
      env: userEnv(line),
    });
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^headroom — load, judge and compare/);
    assert.match(help.stdout, /Usage:/);
    assert.match(help.stdout, /headroom db lint/);

    // `headroom db lint` finds squawk where npm installed it for the user (squawk-cli's platform package).
    const migrations = join(consumer, `migrations-${line}`);
    mkdirSync(migrations, { recursive: true });
    writeFileSync(
      join(migrations, '.squawk.toml'),
      'pg_version = "16"\nassume_in_transaction = true\nexcluded_rules = ["require-lock-timeout", "require-statement-timeout"]\n',
    );
    writeFileSync(
      join(migrations, '001_items.sql'),
      '-- headroom: no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS items_name ON items (name);\n',
    );
    const clean = await run('npx', ['--no-install', 'headroom', 'db', 'lint', migrations], {
      cwd: consumer,
      env: userEnv(line),
    });
    assert.equal(clean.code, 0, clean.stdout + clean.stderr);
    assert.match(clean.stdout, /1 file, 0 violations/);
    writeFileSync(join(migrations, '002_items_note.sql'), 'CREATE INDEX items_note ON items (note);\n');
    const flagged = await run('npx', ['--no-install', 'headroom', 'db', 'lint', migrations], {
      cwd: consumer,
      env: userEnv(line),
    });
    assert.equal(flagged.code, 1, flagged.stdout + flagged.stderr);
    assert.match(flagged.stdout, /002_items_note\.sql:1:1: .*require-concurrent-index-creation/);

    // Two generator threads: the compiled CLI must find its worker module in dist/.
    const load = await run(
      'npx',
      [
        '--no-install',
        'headroom',
        'load',
        'load.yaml',
        '--target',
        base,
        '--workers',
        '2',
        '--out',
        'run.json',
      ],
      { cwd: consumer, env: userEnv(line) },
    );
    t.diagnostic(`headroom load on Node ${line}:\n${load.stdout}`);
    assert.equal(load.code, 0, `headroom load exited ${load.code}:\n${load.stdout}${load.stderr}`);
    assert.match(load.stdout, /running on 2 generator threads/);
    assert.match(load.stdout, /GET \/items\/:id/);
    const artifact = JSON.parse(readFileSync(join(consumer, 'run.json'), 'utf8'));
    assert.ok(artifact.gate, 'the run was judged against headroom.yaml');
  });
}

// --- helpers ---

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<Ran> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? minutes(5),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (code, signal) =>
      resolvePromise({ code, stdout, stderr: signal ? `${stderr}\n(killed by ${signal})` : stderr }),
    );
  });
}

function npm(args: string[], cwd: string): Promise<Ran> {
  return run('npm', args, { cwd, env: userEnv(24) });
}

function node(line: number, args: string[]): Promise<Ran> {
  return run(nodes.get(line)!, args, { cwd: consumer, env: userEnv(line) });
}

/** The environment of `npm test` less what it adds: the repo's bins on PATH, npm_* config, NODE_OPTIONS. */
function repoEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // set by node --test; a child `node --test` would report to us, not print
  return env;
}

/** A user's shell: none of this repository's npm config, conditions or bins, and the Node line under test first on PATH. */
function userEnv(line: number): NodeJS.ProcessEnv {
  const env = repoEnv();
  for (const name of Object.keys(env)) {
    if (/^npm_/i.test(name) || name === 'NODE_OPTIONS' || name === 'INIT_CWD') delete env[name];
  }
  const path = (env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => dir !== '' && !`${resolve(dir)}${sep}`.startsWith(`${root}${sep}`));
  const binary = nodes.get(line);
  env.PATH = [...(binary ? [dirname(binary)] : []), ...path].join(delimiter);
  return env;
}

/** This process's node when it is of that line, else `node@<line>` from the registry, kept under node_modules/.cache. */
async function nodeBinary(line: number): Promise<string> {
  if (Number(process.versions.node.split('.')[0]) === line) return process.execPath;
  const dir = join(root, 'node_modules', '.cache', 'headroom-consumer', `node-${line}`);
  const binary = join(dir, 'node_modules', 'node', 'bin', 'node');
  if (!(await isNodeLine(binary, line))) {
    mkdirSync(dir, { recursive: true });
    // The `node` package ships the binary; allowScripts lets its preinstall fetch it where it does not.
    writeFileSync(
      join(dir, 'package.json'),
      `${JSON.stringify({ private: true, allowScripts: { node: true } }, null, 2)}\n`,
    );
    const install = await run('npm', ['install', '--no-audit', '--no-fund', `node@${line}`], {
      cwd: dir,
      env: userEnv(0),
    });
    assert.equal(install.code, 0, `npm install node@${line} failed:\n${install.stderr}`);
    assert.ok(await isNodeLine(binary, line), `npm install node@${line} gave no Node ${line} at ${binary}`);
  }
  return binary;
}

async function isNodeLine(binary: string, line: number): Promise<boolean> {
  if (!existsSync(binary)) return false;
  const version = await run(binary, ['--version'], { cwd: root, env: userEnv(0) });
  return version.code === 0 && version.stdout.startsWith(`v${line}.`);
}

/** The root README's full example, as a user pastes it, with their own data access declared. */
function readmeExample(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const block = /<!-- consumer-test: readme-example -->\n```ts\n([\s\S]*?)\n```/.exec(readme);
  assert.ok(block, 'README.md has no block marked <!-- consumer-test: readme-example -->');
  return `${block[1]}\n\ndeclare function findOrder(id: string, signal: AbortSignal): Promise<{ id: string }>;\n`;
}

/** The manifest as the tarball carried it into the consumer's node_modules. */
function packedManifest(pkg: Packed): Manifest {
  const manifest = JSON.parse(readFileSync(join(consumer, 'node_modules', pkg.name, 'package.json'), 'utf8'));
  assert.equal(manifest.version, pkg.version);
  return manifest as Manifest;
}

/** Resolves with the app's URL and Node version once it prints them; rejects if it exits or stays silent 30 s. */
function listening(app: ChildProcess): Promise<{ url: string; version: string }> {
  let out = '';
  app.stdout!.setEncoding('utf8');
  app.stderr!.setEncoding('utf8');
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => fail('did not listen within 30 s'), 30_000);
    const fail = (why: string) => {
      clearTimeout(timer);
      reject(new Error(`the consumer app ${why}:\n${out}`));
    };
    const collect = (chunk: string) => {
      out += chunk; // keeps draining the pipes for the app's whole life
      const match = /consumer listening at (http:\/\/127\.0\.0\.1:\d+) on node (v[\d.]+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolvePromise({ url: match[1]!, version: match[2]! });
      }
    };
    app.stdout!.on('data', collect);
    app.stderr!.on('data', collect);
    app.once('exit', (code, signal) => fail(`exited (${code ?? signal})`));
    app.once('error', (error) => fail(`could not start: ${error.message}`));
  });
}

async function stop(app: ChildProcess): Promise<void> {
  if (app.exitCode !== null || app.signalCode !== null) return;
  const exited = once(app, 'exit');
  app.kill('SIGTERM');
  const timer = setTimeout(() => app.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function getJson(url: string) {
  const response = await fetch(url);
  const text = await response.text();
  // biome-ignore lint/suspicious/noExplicitAny: assertions read whatever the app answered
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, headers: response.headers, body };
}
