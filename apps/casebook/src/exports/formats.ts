// How an exported case is written: CSV (RFC 4180, with spreadsheet formulas defused) or NDJSON.

/** The columns of a case export, in order. */
export const exportColumns = [
  'id',
  'title',
  'status',
  'priority',
  'owner_id',
  'created_at',
  'updated_at',
] as const;

/** A case row as the export query reads it. */
export type ExportRow = Record<(typeof exportColumns)[number], unknown>;

/** The media type of each format. */
export const exportMediaTypes = { csv: 'text/csv; charset=utf-8', ndjson: 'application/x-ndjson' } as const;

export type ExportFormat = keyof typeof exportMediaTypes;

/**
 * One CSV cell: quoted when it holds a comma, quote or line break; a text cell that a spreadsheet would run as
 * a formula (starting with =, +, -, @, tab or carriage return) is prefixed with an apostrophe (OWASP's advice on
 * CSV injection), since case titles are anyone's input.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = value instanceof Date ? value.toISOString() : String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The file's first line (CSV header), or nothing (NDJSON). */
export function exportHeader(format: ExportFormat): string {
  return format === 'csv' ? `${exportColumns.join(',')}\r\n` : '';
}

/** One row as a line of the file. */
export function exportLine(format: ExportFormat, row: ExportRow): string {
  if (format === 'csv') return `${exportColumns.map((column) => csvCell(row[column])).join(',')}\r\n`;
  const record: Record<string, unknown> = {};
  for (const column of exportColumns) {
    const value = row[column];
    record[column] = value instanceof Date ? value.toISOString() : value;
  }
  return `${JSON.stringify(record)}\n`;
}
