// Keeps docs/errors.md and the error tables (`defineErrors` in each errors.ts / codes.ts) of every package and
// app in step: the same codes, and the same HTTP status for each.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { type ErrorDefinition, isErrorTable } from '@headroom/core/errors';

const root = join(import.meta.dirname, '..');
const registryFiles = new Set(['errors.ts', 'codes.ts']);

/** Every errors.ts / codes.ts under packages/<pkg>/src and apps/<app>/src. */
function registries(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules') continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && registryFiles.has(entry.name)) found.push(path);
    }
  };
  for (const group of ['packages', 'apps']) {
    for (const unit of readdirSync(join(root, group), { withFileTypes: true })) {
      if (!unit.isDirectory()) continue;
      try {
        walk(join(root, group, unit.name, 'src'));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
  }
  return found;
}

interface Declared extends ErrorDefinition {
  file: string;
}

/** Every code of every table exported by a registry file, with where it was first declared. */
async function declaredCodes(): Promise<{
  codes: Map<string, Declared>;
  conflicts: string[];
  bare: string[];
}> {
  const codes = new Map<string, Declared>();
  const conflicts: string[] = [];
  const bare: string[] = [];
  for (const path of registries()) {
    const file = path.slice(root.length + 1);
    const module: Record<string, unknown> = await import(pathToFileURL(path).href);
    const tables = Object.values(module).filter(isErrorTable);
    if (tables.length === 0) bare.push(file);
    for (const table of tables) {
      for (const [code, definition] of Object.entries(table.definitions)) {
        const seen = codes.get(code);
        if (!seen) codes.set(code, { ...definition, file });
        else if (seen.status !== definition.status || seen.stack !== definition.stack) {
          conflicts.push(`${code}: ${seen.status} in ${seen.file}, ${definition.status} in ${file}`);
        }
      }
    }
  }
  return { codes, conflicts, bare };
}

/** Code → the status in its row of docs/errors.md (`| Code | Status | Meaning | Fix |`). */
function documentedCodes(): Map<string, number> {
  const codes = new Map<string, number>();
  for (const line of readFileSync(join(root, 'docs/errors.md'), 'utf8').split('\n')) {
    const row = /^\|\s*`?(HR_[A-Z0-9_]+)`?\s*\|\s*(\d{3})\b/.exec(line);
    if (row?.[1] && row[2]) codes.set(row[1], Number(row[2]));
    else if (/^\|\s*`?HR_/.test(line)) codes.set(line, Number.NaN); // a code row without a status
  }
  return codes;
}

test('every code of an error table is in docs/errors.md with its status, and only those', async () => {
  const { codes, conflicts, bare } = await declaredCodes();
  const documented = documentedCodes();
  assert.ok(codes.size > 30 && documented.size > 30, 'found the tables and the table of the doc');
  assert.deepEqual(bare, [], 'every errors.ts / codes.ts declares its codes with defineErrors');
  assert.deepEqual(conflicts, [], 'a code raised by two modules has one status');
  const undocumented = [...codes]
    .filter(([code]) => !documented.has(code))
    .map(([c, d]) => `${c} (${d.file})`);
  const gone = [...documented.keys()].filter((code) => !codes.has(code));
  const wrongStatus = [...codes]
    .filter(([code, d]) => documented.has(code) && documented.get(code) !== d.status)
    .map(([code, d]) => `${code}: table ${d.status}, doc ${documented.get(code)}`);
  assert.deepEqual(
    { undocumented, gone, wrongStatus },
    { undocumented: [], gone: [], wrongStatus: [] },
    'add undocumented codes to docs/errors.md; remove documented codes no table declares; make the Status column match',
  );
});
