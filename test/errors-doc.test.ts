// Keeps docs/errors.md and the errors.ts / codes.ts registries of every package and app in step.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

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
      const src = join(root, group, unit.name, 'src');
      try {
        walk(src);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
  }
  return found;
}

function definedCodes(): Map<string, string> {
  const codes = new Map<string, string>();
  for (const file of registries()) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/(['"`])(HR_[A-Z0-9_]+)\1/g)) {
      if (match[2] && !codes.has(match[2])) codes.set(match[2], file.slice(root.length + 1));
    }
  }
  return codes;
}

function documentedCodes(): Set<string> {
  const codes = new Set<string>();
  for (const line of readFileSync(join(root, 'docs/errors.md'), 'utf8').split('\n')) {
    const firstCell = /^\|\s*`?(HR_[A-Z0-9_]+)`?\s*\|/.exec(line);
    if (firstCell?.[1]) codes.add(firstCell[1]);
  }
  return codes;
}

test('every code in an errors.ts or codes.ts is in docs/errors.md, and only those', () => {
  const defined = definedCodes();
  const documented = documentedCodes();
  assert.ok(defined.size > 0 && documented.size > 0, 'found registries and a table');
  const undocumented = [...defined]
    .filter(([code]) => !documented.has(code))
    .map(([code, f]) => `${code} (${f})`);
  const gone = [...documented].filter((code) => !defined.has(code));
  assert.deepEqual(
    { undocumented, gone },
    { undocumented: [], gone: [] },
    'add undocumented codes to docs/errors.md; remove documented codes no errors.ts defines any more',
  );
});
