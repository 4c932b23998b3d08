/**
 * CSV fields and lines as RFC 4180 has them (a field with a comma, a quote or a line break is quoted,
 * quotes doubled; lines end in CRLF), made safe to open in a spreadsheet.
 */

export type CsvValue = string | number | boolean | null;

/**
 * Text a spreadsheet would read as a formula (=, +, -, @, and the tab and carriage return that some
 * read past). Such a cell gets a leading `'`, which spreadsheets show as text: a job named
 * `=HYPERLINK(...)` stays a name and never runs (OWASP's "CSV injection").
 */
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvField(value: CsvValue): string {
  if (value === null) return "";
  let text = String(value);
  if (typeof value === "string" && FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export const csvLine = (values: readonly CsvValue[]) => `${values.map(csvField).join(",")}\r\n`;
