/**
 * Tokens of the SOQL subset the sandbox understands. Positions are kept so errors can say
 * `ERROR at Row:r:Column:c` the way Salesforce does.
 */

export type TokenKind =
  | 'ident' // field names, object names, keywords (keywords are recognised by the parser, case-insensitively)
  | 'string'
  | 'number'
  | 'date'
  | 'datetime'
  | 'op' // = != <> < <= > >=
  | 'punct' // ( ) , . :
  | 'eof';

export interface Token {
  kind: TokenKind;
  /** For strings, the unescaped value; otherwise the source text. */
  text: string;
  /** Offset into the query text. */
  pos: number;
}

/** A lexing or parsing problem, turned into a 400 MALFORMED_QUERY by the server. */
export class SoqlError extends Error {
  constructor(
    readonly errorCode: 'MALFORMED_QUERY' | 'INVALID_FIELD' | 'INVALID_TYPE' | 'INVALID_QUERY_FILTER_OPERATOR',
    message: string,
  ) {
    super(message);
    this.name = 'SoqlError';
  }
}

/** `Row:r:Column:c` of an offset, 1-based, as Salesforce reports it. */
export function rowColumn(text: string, pos: number): string {
  const before = text.slice(0, pos).split('\n');
  return `Row:${before.length}:Column:${(before[before.length - 1]?.length ?? 0) + 1}`;
}

const ESCAPES: Record<string, string> = {
  n: '\n',
  r: '\r',
  t: '\t',
  b: '\b',
  f: '\f',
  '"': '"',
  "'": "'",
  '\\': '\\',
  // \_ and \% keep their backslash so LIKE can tell a literal wildcard from a wildcard.
  _: '\\_',
  '%': '\\%',
};

const DATETIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2})/;
const DATE_RE = /^\d{4}-\d{2}-\d{2}(?![\dT])/;
const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/;

export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text.charAt(i);
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const rest = text.slice(i);
    if (c === "'") {
      let value = '';
      let j = i + 1;
      for (;;) {
        if (j >= text.length) {
          throw new SoqlError('MALFORMED_QUERY', `unterminated string literal at ${rowColumn(text, i)}`);
        }
        const ch = text.charAt(j);
        if (ch === "'") break;
        if (ch === '\\') {
          const esc = ESCAPES[text.charAt(j + 1)];
          if (esc === undefined) {
            throw new SoqlError(
              'MALFORMED_QUERY',
              `Invalid string literal '\\${text.charAt(j + 1)}'. Illegal character sequence '\\${text.charAt(j + 1)}' in string literal. ERROR at ${rowColumn(text, j)}`,
            );
          }
          value += esc;
          j += 2;
          continue;
        }
        value += ch;
        j++;
      }
      out.push({ kind: 'string', text: value, pos: i });
      i = j + 1;
      continue;
    }
    const dt = DATETIME_RE.exec(rest);
    if (dt) {
      out.push({ kind: 'datetime', text: dt[0], pos: i });
      i += dt[0].length;
      continue;
    }
    const d = DATE_RE.exec(rest);
    if (d) {
      out.push({ kind: 'date', text: d[0], pos: i });
      i += d[0].length;
      continue;
    }
    // A sign belongs to a number only where an operand is expected (after an operator, comma, colon or paren).
    const prev = out[out.length - 1];
    const operandExpected = !prev || prev.kind === 'op' || (prev.kind === 'punct' && prev.text !== ')');
    const n = NUMBER_RE.exec(rest);
    if (n && (/\d|\./.test(c) || operandExpected)) {
      out.push({ kind: 'number', text: n[0], pos: i });
      i += n[0].length;
      continue;
    }
    const op = /^(<=|>=|!=|<>|=|<|>)/.exec(rest);
    if (op) {
      out.push({ kind: 'op', text: op[0], pos: i });
      i += op[0].length;
      continue;
    }
    if ('(),.:'.includes(c)) {
      out.push({ kind: 'punct', text: c, pos: i });
      i++;
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
    if (id) {
      out.push({ kind: 'ident', text: id[0], pos: i });
      i += id[0].length;
      continue;
    }
    throw new SoqlError('MALFORMED_QUERY', `unexpected character '${c}' at ${rowColumn(text, i)}`);
  }
  out.push({ kind: 'eof', text: '', pos: text.length });
  return out;
}
