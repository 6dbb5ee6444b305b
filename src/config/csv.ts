/**
 * A small RFC 4180 CSV reader for the files RevOps edits in a spreadsheet (org.csv, quotas.csv): quoted fields
 * with embedded commas, quotes ("") and line breaks, CRLF or LF line ends, a UTF-8 byte-order mark, blank lines
 * skipped. Every field carries the line and column where it starts so that errors can point at it.
 */
import { AppError, type ErrorCode } from '../errors.ts';

export interface CsvField {
  readonly value: string;
  /** 1-based line of the field's first character in the file. */
  readonly line: number;
  /** 1-based column of the field's first character. */
  readonly column: number;
}

export interface CsvRecord {
  /** 1-based line where the record starts. */
  readonly line: number;
  readonly fields: readonly CsvField[];
}

/**
 * Parses CSV text into records of fields. A quote inside an unquoted field, text after a closing quote or an
 * unterminated quote is an error (with `code`) whose `where` is `file:line:column`.
 */
export function parseCsv(text: string, file: string, code: ErrorCode = 'CONFIG_FILE'): CsvRecord[] {
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const records: CsvRecord[] = [];
  let fields: CsvField[] = [];
  let recordLine = 1;
  let line = 1;
  let col = 1;
  let i = 0;

  const fail = (message: string, atLine: number, atCol: number): never => {
    throw new AppError(code, message, { where: `${file}:${atLine}:${atCol}` });
  };

  const endRecord = () => {
    // A line with nothing on it is not a record (trailing newline, blank separator lines).
    const blank = fields.length === 1 && fields[0]?.value === '' && !quotedStart;
    if (!blank) records.push({ line: recordLine, fields });
    fields = [];
  };

  let quotedStart = false;
  while (i <= src.length) {
    // Start of a field.
    const fieldLine = line;
    const fieldCol = col;
    if (fields.length === 0) recordLine = line;
    let value = '';
    quotedStart = src[i] === '"';
    if (quotedStart) {
      i++;
      col++;
      for (;;) {
        if (i >= src.length) fail('a quoted field is not closed', fieldLine, fieldCol);
        const ch = src[i] as string;
        if (ch === '"') {
          if (src[i + 1] === '"') {
            value += '"';
            i += 2;
            col += 2;
            continue;
          }
          i++;
          col++;
          break;
        }
        if (ch === '\r' && src[i + 1] === '\n') {
          value += '\n';
          i += 2;
          line++;
          col = 1;
          continue;
        }
        if (ch === '\n' || ch === '\r') {
          value += '\n';
          i++;
          line++;
          col = 1;
          continue;
        }
        value += ch;
        i++;
        col++;
      }
      const next = src[i];
      if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') {
        fail('unexpected text after a closing quote (write "" for a quote inside a quoted field)', line, col);
      }
    } else {
      while (i < src.length) {
        const ch = src[i] as string;
        if (ch === ',' || ch === '\n' || ch === '\r') break;
        if (ch === '"') fail('a quote inside an unquoted field (quote the whole field)', line, col);
        value += ch;
        i++;
        col++;
      }
    }
    fields.push({ value, line: fieldLine, column: fieldCol });

    const sep = src[i];
    if (sep === ',') {
      i++;
      col++;
      continue;
    }
    endRecord();
    if (sep === undefined) break;
    i += sep === '\r' && src[i + 1] === '\n' ? 2 : 1;
    line++;
    col = 1;
    if (i >= src.length) break;
  }
  return records;
}

/** Column positions by header name, after checking that the required columns are there and none is repeated. */
export function headerIndex(
  header: CsvRecord,
  required: readonly string[],
  optional: readonly string[],
  file: string,
  code: ErrorCode,
): Map<string, number> {
  const index = new Map<string, number>();
  const known = new Set([...required, ...optional]);
  header.fields.forEach((f, i) => {
    const name = f.value.trim().toLowerCase();
    if (!known.has(name)) {
      throw new AppError(code, `unknown column "${f.value}"; expected ${[...required, ...optional].join(', ')}`, {
        where: `${file}:${f.line}:${f.column}`,
      });
    }
    if (index.has(name)) {
      throw new AppError(code, `column "${name}" appears twice`, {
        where: `${file}:${f.line}:${f.column}`,
      });
    }
    index.set(name, i);
  });
  const missing = required.filter((r) => !index.has(r));
  if (missing.length > 0) {
    throw new AppError(code, `missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`, {
      where: `${file}:${header.line}:1`,
    });
  }
  return index;
}

/** One data row of a CSV table: its line, and a named cell with its value trimmed and its position kept. */
export interface CsvRow {
  readonly line: number;
  cell(name: string): CsvField;
}

/**
 * Reads a CSV table with a header row: checks the header (see `headerIndex`), then yields each data row with its
 * cells by column name, checking as it goes that the row has as many fields as the header (so errors come in file
 * order, interleaved with the caller's own checks of earlier rows). `fail` throws `code` at `file:line:column`.
 */
export function readCsvTable(
  text: string,
  file: string,
  code: ErrorCode,
  required: readonly string[],
  optional: readonly string[] = [],
): { rows: Iterable<CsvRow>; fail: (line: number, column: number, message: string) => never } {
  const fail = (line: number, column: number, message: string): never => {
    throw new AppError(code, message, { where: `${file}:${line}:${column}` });
  };
  const [header, ...body] = parseCsv(text, file, code);
  if (!header) throw new AppError(code, `${file} is empty; expected a header row`, { where: file });
  const index = headerIndex(header, required, optional, file, code);
  function* rows(): Generator<CsvRow> {
    for (const record of body) {
      if (record.fields.length !== header!.fields.length) {
        fail(record.line, 1, `expected ${header!.fields.length} fields like the header, found ${record.fields.length}`);
      }
      yield {
        line: record.line,
        cell: (name) => {
          const at = index.get(name);
          // An optional column the file leaves out reads as empty.
          if (at === undefined) return { value: '', line: record.line, column: 1 } as CsvField;
          const f = record.fields[at] as CsvField;
          return { ...f, value: f.value.trim() };
        },
      };
    }
  }
  return { rows: rows(), fail };
}
