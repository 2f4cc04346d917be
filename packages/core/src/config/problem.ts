// What is wrong with a config, one entry per problem, each with the path of the value and the rule it breaks.

/** One problem of a config file or of an environment override. */
export interface ConfigProblem {
  /** JSON pointer of the value (`/tiers/free/pageCap`); `/` for the file as a whole. */
  path: string;
  /** What is wrong, in words (Ajv's message for a schema error). */
  message: string;
  /** The rule broken: a JSON Schema keyword (`type`, `minimum`, `required`…), or `parse` or `read`. */
  keyword: string;
  /** Where the value came from: the file's path, or `env NAME` for an environment override. */
  source: string;
  /** The line in a YAML file, where it can be told. */
  line?: number;
}

/**
 * One problem per line, for an error message or a log.
 *
 * @example
 * describeProblems([{ path: '/port', message: 'must be integer', keyword: 'type', source: 'app.yaml', line: 2 }]);
 * // '  line 2, /port: must be integer [type]'
 */
export function describeProblems(problems: readonly ConfigProblem[]): string {
  return problems
    .map((p) => {
      const where = p.line === undefined ? '' : `line ${p.line}, `;
      const from = p.source.startsWith('env ') ? ` (from ${p.source.slice(4)})` : '';
      return `  ${where}${p.path}: ${p.message} [${p.keyword}]${from}`;
    })
    .join('\n');
}
