// The plain-text tables the db commands print.

/**
 * Columns padded to their widest cell, two spaces apart; a column of numbers (or `–`) right-aligned.
 *
 * @example
 * textTable([['#', 'route'], ['1', 'GET /v1/cases/:id']]);
 */
export function textTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length)));
  const body = rows.slice(1).map((row) => row.map((cell) => cell ?? '–'));
  const numeric = widths.map(
    (_, c) => body.every((row) => /^([\d.+-]|–$)/.test(row[c]!)) && body.some((row) => /^\d/.test(row[c]!)),
  );
  return rows
    .map((row) =>
      row
        .map((cell, c) => (numeric[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
