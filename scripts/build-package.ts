// Builds a published package into dist/: JavaScript and declarations, from its tsconfig.build.json.
// Usage: node scripts/build-package.ts [packageDir...]   (default: the current directory)
//
// The repository itself never needs this: it runs the .ts sources through the "@headroom/source" export
// condition. What users install is this output, because Node does not strip types inside node_modules.
// A package's @headroom/* dependencies are built first, since it compiles against their declarations.

import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const tsc = join(root, 'node_modules', '.bin', 'tsc');
const built = new Set<string>();

interface Manifest {
  name: string;
  bin?: Record<string, string>;
  exports?: Record<string, string | Record<string, string>>;
  dependencies?: Record<string, string>;
}

function readManifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
}

function build(dir: string): void {
  if (built.has(dir)) return;
  built.add(dir);
  const manifest = readManifest(dir);
  for (const dependency of Object.keys(manifest.dependencies ?? {})) {
    if (!dependency.startsWith('@headroom/')) continue;
    const dependencyDir = join(root, 'packages', dependency.slice('@headroom/'.length));
    if (existsSync(join(dependencyDir, 'tsconfig.build.json'))) build(dependencyDir);
  }
  const dist = join(dir, 'dist');
  rmSync(dist, { recursive: true, force: true }); // no stale output from a renamed or deleted source
  const result = spawnSync(tsc, ['-p', join(dir, 'tsconfig.build.json')], { stdio: ['ignore', 2, 2] });
  if (result.status !== 0) fail(`${manifest.name}: tsc exited with ${result.status ?? result.signal}`);
  const files = walk(dist);
  for (const file of files) if (file.endsWith('.d.ts')) rewriteDeclarationSpecifiers(file);
  for (const file of files) checkRelativeSpecifiers(file);
  checkExports(dir, manifest);
  for (const target of Object.values(manifest.bin ?? {})) makeExecutable(join(dir, target), manifest.name);
  // stderr, like tsc's diagnostics above: `npm pack --json` runs this as prepack and its stdout must stay JSON.
  console.error(`built ${manifest.name}: ${files.length} files in ${relative(root, dist)}/`);
}

// tsc's rewriteRelativeImportExtensions rewrites './x.ts' to './x.js' in the JavaScript it emits but leaves
// declarations as written (microsoft/TypeScript#61037, open; TypeScript ≥ 5 resolves '.ts' in a .d.ts, older
// compilers, IDE plugins and other tools that follow the path literally do not). A .d.ts that names its
// neighbours the way the .js beside it does resolves for every consumer, so the build rewrites them.
const tsSpecifier =
  /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)(['"])(\.{1,2}\/[^'"]*?)(?<!\.d)\.ts\2/g;

function rewriteDeclarationSpecifiers(file: string): void {
  const text = readFileSync(file, 'utf8');
  const rewritten = text.replace(tsSpecifier, (_, lead: string, quote: string, path: string) => {
    return `${lead}${quote}${path}.js${quote}`;
  });
  if (rewritten !== text) writeFileSync(file, rewritten);
}

const anySpecifier = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]*)\1/g;

// Every relative import in the output must land on a file that is in the output.
function checkRelativeSpecifiers(file: string): void {
  if (!file.endsWith('.js') && !file.endsWith('.d.ts')) return;
  for (const match of readFileSync(file, 'utf8').matchAll(anySpecifier)) {
    const specifier = match[2]!;
    if (!specifier.endsWith('.js'))
      fail(`${relative(root, file)}: import '${specifier}' does not end in .js`);
    const target = join(dirname(file), specifier);
    const needed = file.endsWith('.d.ts') ? target.replace(/\.js$/, '.d.ts') : target;
    if (!existsSync(needed))
      fail(`${relative(root, file)}: import '${specifier}' has no ${relative(root, needed)}`);
  }
}

function checkExports(dir: string, manifest: Manifest): void {
  for (const [subpath, conditions] of Object.entries(manifest.exports ?? {})) {
    if (typeof conditions === 'string')
      fail(`${manifest.name}: export '${subpath}' has no types/import conditions`);
    for (const condition of ['types', 'import']) {
      const target = conditions[condition];
      if (!target?.startsWith('./dist/'))
        fail(`${manifest.name}: export '${subpath}' has no ${condition} in dist/`);
      if (!existsSync(join(dir, target)))
        fail(`${manifest.name}: export '${subpath}' → ${target} was not built`);
    }
  }
}

function makeExecutable(file: string, name: string): void {
  if (!existsSync(file)) fail(`${name}: bin ${relative(root, file)} was not built`);
  if (!readFileSync(file, 'utf8').startsWith('#!/usr/bin/env node\n')) {
    fail(`${name}: bin ${relative(root, file)} does not start with #!/usr/bin/env node`);
  }
  chmodSync(file, 0o755);
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

function fail(message: string): never {
  console.error(`build-package: ${message}`);
  process.exit(1);
}

const dirs = process.argv.slice(2);
for (const dir of dirs.length > 0 ? dirs : ['.']) build(resolve(dir));
