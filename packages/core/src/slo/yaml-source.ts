// YAML read with its line numbers kept, so a problem found in the parsed value (a JSON pointer) is reported
// at its line in the file. The spec loader and the CLI's scenario loader both read YAML this way.

import { isNode, LineCounter, parseDocument } from 'yaml';

/** A parsed YAML file that can say where a value came from. */
export interface YamlSource {
  /** The document as plain JavaScript. */
  readonly value: unknown;
  /** Syntax errors, each with its line and column. */
  readonly errors: readonly { line: number; column: number; message: string }[];
  /** The line (1-based) of the value at a JSON pointer (`/stages/0/rate`), or of its nearest parent. */
  lineOf(pointer: string): number | undefined;
}

/**
 * Parses YAML text, keeping what it takes to name the line of any value.
 *
 * @example
 * const source = readYaml('stages:\n  - rate: 0/s\n');
 * source.lineOf('/stages/0/rate'); // 2
 */
export function readYaml(text: string): YamlSource {
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const errors = document.errors.map((e) => {
    const at = lines.linePos(e.pos[0]);
    return { line: at.line, column: at.col, message: e.message.split('\n')[0]! };
  });
  return {
    value: errors.length > 0 ? undefined : document.toJS(),
    errors,
    lineOf(pointer) {
      const path = pointer
        .split('/')
        .slice(1)
        .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
        .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
      for (let depth = path.length; depth >= 0; depth--) {
        const node = depth === 0 ? document.contents : document.getIn(path.slice(0, depth), true);
        if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
      }
      return undefined;
    },
  };
}
