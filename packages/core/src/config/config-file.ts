// The config file as it is on disk: its identity for the poll, its bytes and their checksum, and its value
// parsed by extension (YAML or JSON). A missing file is a state, not an error.

import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { readYaml } from '../slo/yaml-source.ts';
import type { ConfigProblem } from './problem.ts';

/** How a file's name says it is written. */
export type ConfigFormat = 'yaml' | 'json';

/** The format of `file` by its extension, or undefined for one this module does not read. */
export function formatOf(file: string): ConfigFormat | undefined {
  const extension = extname(file).toLowerCase();
  if (extension === '.yaml' || extension === '.yml') return 'yaml';
  if (extension === '.json') return 'json';
  return undefined;
}

/** What one read of the file found. */
export interface FileRead {
  /**
   * What the poll compares: device, inode, size, mtime and ctime of the file its path resolves to (ctime too,
   * because a copy that keeps the mtime still moves it), or `absent`, or `error:<code>`.
   */
  identity: string;
  /** The bytes; undefined when there is no file or it could not be read. */
  bytes?: Buffer;
  /** SHA-256 (hex) of the bytes; `none` when there is no file, `error:<code>` when it could not be read. */
  checksum: string;
  /** Why the file could not be read (never ENOENT: a missing file is `absent`). */
  error?: NodeJS.ErrnoException;
}

const missing = new Set(['ENOENT', 'ENOTDIR']);

/**
 * The identity of the file `path` resolves to (`fs.stat` follows symlinks, so a swapped `..data` link shows as
 * a new inode).
 */
export async function fileIdentity(path: string): Promise<string> {
  try {
    const s = await stat(path, { bigint: true });
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
    return missing.has(code) ? 'absent' : `error:${code}`;
  }
}

/**
 * Reads the file. Its identity is taken first, so if the file changes between the two the identity is the
 * older one, and the next poll looks again (one read too many, never one too few).
 */
export async function readConfigFile(path: string): Promise<FileRead> {
  const identity = await fileIdentity(path);
  try {
    const bytes = await readFile(path);
    return { identity, bytes, checksum: createHash('sha256').update(bytes).digest('hex') };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
    if (missing.has(code)) return { identity: 'absent', checksum: 'none' };
    return { identity, checksum: `error:${code}`, error: error as NodeJS.ErrnoException };
  }
}

/** A parsed file: its value, or its problems; `lineOf` names the YAML line of a JSON pointer. */
export interface ParsedFile {
  value: Record<string, unknown> | undefined;
  problems: ConfigProblem[];
  lineOf(pointer: string): number | undefined;
}

/**
 * Parses the bytes of a config file. The document must be a mapping: an empty file is a problem, not "all
 * defaults", because an editor that truncates before it writes shows exactly that for a moment.
 */
export function parseConfigFile(bytes: Buffer, format: ConfigFormat, source: string): ParsedFile {
  const text = bytes.toString('utf8').replace(/^\uFEFF/, '');
  let value: unknown;
  let lineOf: (pointer: string) => number | undefined = () => undefined;
  if (format === 'yaml') {
    const yaml = readYaml(text);
    if (yaml.errors.length > 0) {
      const problems = yaml.errors.map(
        (e): ConfigProblem => ({
          path: '/',
          message: `column ${e.column}: ${e.message}`,
          keyword: 'parse',
          source,
          line: e.line,
        }),
      );
      return { value: undefined, problems, lineOf };
    }
    value = yaml.value;
    lineOf = (pointer) => yaml.lineOf(pointer);
  } else {
    try {
      value = JSON.parse(text);
    } catch (error) {
      const message = (error as Error).message;
      return { value: undefined, problems: [{ path: '/', message, keyword: 'parse', source }], lineOf };
    }
  }
  if (!isPlainObject(value)) {
    const what =
      text.trim() === '' ? 'the file is empty' : `it holds ${value === null ? 'null' : typeof value}`;
    return {
      value: undefined,
      problems: [{ path: '/', message: `must be a mapping of settings (${what})`, keyword: 'type', source }],
      lineOf,
    };
  }
  return { value, problems: [], lineOf };
}

/** True for an object that is neither an array nor null. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
