/**
 * Parser for the SOQL subset: `SELECT fields | COUNT() FROM Object [WHERE cond] [ORDER BY ...] [LIMIT n] [OFFSET n]`.
 *
 * As on Salesforce, AND and OR cannot be mixed at one level without parentheses (`unexpected token: OR`), and NOT
 * applies to the single condition after it. A semi-join (`Id [NOT] IN (SELECT RefId FROM Obj WHERE ...)`) selects one
 * field and, as on Salesforce, takes no ORDER BY, LIMIT or OFFSET and no semi-join of its own. Not supported
 * (answer MALFORMED_QUERY): parent-child subqueries in SELECT, GROUP BY, aggregate functions other than COUNT(),
 * TYPEOF, FOR VIEW/UPDATE, INCLUDES/EXCLUDES, convertCurrency().
 */
import { rowColumn, SoqlError, type Token, tokenize } from './lexer.ts';

export type Literal =
  | { type: 'string'; value: string }
  | { type: 'number'; value: number }
  | { type: 'boolean'; value: boolean }
  | { type: 'null' }
  | { type: 'date'; value: string }
  | { type: 'datetime'; value: string }
  /** TODAY, LAST_N_DAYS:n ...: a range of days relative to the sandbox clock. */
  | { type: 'dateLiteral'; name: string; n: number | null };

/** A dotted field path as written (`Owner.Email` -> ['Owner', 'Email']) with its source position. */
export interface FieldPath {
  parts: string[];
  pos: number;
}

export type CmpOp = '=' | '!=' | '<' | '<=' | '>' | '>=';

export type Condition =
  | { kind: 'and'; items: Condition[] }
  | { kind: 'or'; items: Condition[] }
  | { kind: 'not'; item: Condition }
  | { kind: 'cmp'; field: FieldPath; op: CmpOp; value: Literal }
  | { kind: 'in'; field: FieldPath; negate: boolean; values: Literal[] }
  | { kind: 'semiJoin'; field: FieldPath; negate: boolean; query: SoqlQuery; pos: number }
  | { kind: 'like'; field: FieldPath; pattern: string };

export interface OrderItem {
  field: FieldPath;
  desc: boolean;
  nullsLast: boolean;
}

export interface SoqlQuery {
  /** The SELECT list, or null for `SELECT COUNT()`. */
  fields: FieldPath[] | null;
  object: { name: string; pos: number };
  where: Condition | null;
  orderBy: OrderItem[];
  limit: number | null;
  offset: number | null;
}

const RESERVED = new Set([
  'select',
  'from',
  'where',
  'and',
  'or',
  'not',
  'order',
  'by',
  'limit',
  'offset',
  'asc',
  'desc',
  'nulls',
  'first',
  'last',
  'in',
  'like',
  'null',
  'true',
  'false',
  'group',
  'having',
  'with',
]);

const DATE_LITERALS = new Set(['today', 'yesterday', 'tomorrow']);
const DATE_N_LITERALS = new Set(['last_n_days', 'next_n_days', 'n_days_ago']);

export function parseSoql(text: string): SoqlQuery {
  return new Parser(text).query();
}

class Parser {
  private readonly tokens: Token[];
  private i = 0;
  /** Inside a semi-join's WHERE, where another semi-join is refused. */
  private nested = false;

  constructor(private readonly text: string) {
    this.tokens = tokenize(text);
  }

  query(): SoqlQuery {
    const q = this.select(false);
    const end = this.peek();
    if (end.kind !== 'eof') this.unexpected(end);
    return q;
  }

  /** A SELECT statement; inside a semi-join it ends before the closing parenthesis. */
  private select(nested: boolean): SoqlQuery {
    this.keyword('select');
    let fields: FieldPath[] | null = [];
    if (this.isKeyword('count') && this.peek(1).text === '(') {
      this.next();
      this.punct('(');
      this.punct(')');
      fields = null;
    } else {
      fields.push(this.fieldPath());
      while (this.peek().text === ',') {
        this.next();
        fields.push(this.fieldPath());
      }
    }
    this.keyword('from');
    const objTok = this.next();
    if (objTok.kind !== 'ident') this.unexpected(objTok);
    let where: Condition | null = null;
    if (this.isKeyword('where')) {
      this.next();
      this.nested = nested;
      where = this.condition();
      this.nested = false;
    }
    if (nested)
      return { fields, object: { name: objTok.text, pos: objTok.pos }, where, orderBy: [], limit: null, offset: null };
    const orderBy: OrderItem[] = [];
    if (this.isKeyword('order')) {
      this.next();
      this.keyword('by');
      do {
        if (orderBy.length > 0) this.next();
        const field = this.fieldPath();
        let desc = false;
        if (this.isKeyword('asc')) this.next();
        else if (this.isKeyword('desc')) {
          this.next();
          desc = true;
        }
        // Salesforce sorts nulls first unless told otherwise, in both directions.
        let nullsLast = false;
        if (this.isKeyword('nulls')) {
          this.next();
          if (this.isKeyword('last')) nullsLast = true;
          else if (!this.isKeyword('first')) this.unexpected(this.peek());
          this.next();
        }
        orderBy.push({ field, desc, nullsLast });
      } while (this.peek().text === ',');
    }
    let limit: number | null = null;
    let offset: number | null = null;
    if (this.isKeyword('limit')) {
      this.next();
      limit = this.nonNegativeInt();
    }
    if (this.isKeyword('offset')) {
      this.next();
      offset = this.nonNegativeInt();
    }
    return { fields, object: { name: objTok.text, pos: objTok.pos }, where, orderBy, limit, offset };
  }

  /** A condition list: one simple condition, or several joined all by AND or all by OR. */
  private condition(): Condition {
    const first = this.simple();
    const joiner = this.isKeyword('and') ? 'and' : this.isKeyword('or') ? 'or' : null;
    if (!joiner) return first;
    const items = [first];
    while (this.isKeyword(joiner)) {
      this.next();
      items.push(this.simple());
    }
    const other = joiner === 'and' ? 'or' : 'and';
    if (this.isKeyword(other)) this.unexpected(this.peek());
    return { kind: joiner, items };
  }

  private simple(): Condition {
    if (this.isKeyword('not')) {
      this.next();
      return { kind: 'not', item: this.simple() };
    }
    if (this.peek().text === '(') {
      this.next();
      const c = this.condition();
      this.punct(')');
      return c;
    }
    const field = this.fieldPath();
    if (this.isKeyword('like')) {
      this.next();
      const t = this.next();
      if (t.kind !== 'string') this.unexpected(t);
      return { kind: 'like', field, pattern: t.text };
    }
    let negate = false;
    if (this.isKeyword('not') && this.peekKeyword(1, 'in')) {
      this.next();
      negate = true;
    }
    if (this.isKeyword('in')) {
      this.next();
      this.punct('(');
      if (this.isKeyword('select')) {
        const pos = this.peek().pos;
        if (this.nested) {
          throw new SoqlError('MALFORMED_QUERY', `${this.echo(pos)}Nesting of semi join sub-selects is not supported`);
        }
        const query = this.select(true);
        if (query.fields?.length !== 1) this.unexpected(this.peek());
        this.punct(')');
        return { kind: 'semiJoin', field, negate, query, pos };
      }
      const values = [this.literal()];
      while (this.peek().text === ',') {
        this.next();
        values.push(this.literal());
      }
      this.punct(')');
      return { kind: 'in', field, negate, values };
    }
    const opTok = this.next();
    if (opTok.kind !== 'op') this.unexpected(opTok);
    const op = (opTok.text === '<>' ? '!=' : opTok.text) as CmpOp;
    return { kind: 'cmp', field, op, value: this.literal() };
  }

  private literal(): Literal {
    const t = this.next();
    switch (t.kind) {
      case 'string':
        return { type: 'string', value: t.text };
      case 'number':
        return { type: 'number', value: Number(t.text) };
      case 'date':
        return { type: 'date', value: t.text };
      case 'datetime':
        return { type: 'datetime', value: t.text };
      case 'ident': {
        const k = t.text.toLowerCase();
        if (k === 'null') return { type: 'null' };
        if (k === 'true' || k === 'false') return { type: 'boolean', value: k === 'true' };
        if (DATE_LITERALS.has(k)) return { type: 'dateLiteral', name: k, n: null };
        if (DATE_N_LITERALS.has(k)) {
          this.punct(':');
          const n = this.next();
          if (n.kind !== 'number' || !/^\d+$/.test(n.text)) this.unexpected(n);
          return { type: 'dateLiteral', name: k, n: Number(n.text) };
        }
        return this.unexpected(t);
      }
      default:
        return this.unexpected(t);
    }
  }

  private fieldPath(): FieldPath {
    const first = this.next();
    if (first.kind !== 'ident' || RESERVED.has(first.text.toLowerCase())) this.unexpected(first);
    const parts = [first.text];
    while (this.peek().text === '.') {
      this.next();
      const t = this.next();
      if (t.kind !== 'ident') this.unexpected(t);
      parts.push(t.text);
    }
    return { parts, pos: first.pos };
  }

  private nonNegativeInt(): number {
    const t = this.next();
    if (t.kind !== 'number' || !/^\d+$/.test(t.text)) this.unexpected(t);
    return Number(t.text);
  }

  private peek(ahead = 0): Token {
    return this.tokens[Math.min(this.i + ahead, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const t = this.peek();
    if (this.i < this.tokens.length - 1) this.i++;
    return t;
  }

  private isKeyword(k: string): boolean {
    return this.peekKeyword(0, k);
  }

  private peekKeyword(ahead: number, k: string): boolean {
    const t = this.peek(ahead);
    return t.kind === 'ident' && t.text.toLowerCase() === k;
  }

  private keyword(k: string): void {
    const t = this.next();
    if (t.kind !== 'ident' || t.text.toLowerCase() !== k) this.unexpected(t);
  }

  private punct(p: string): void {
    const t = this.next();
    if (t.text !== p || t.kind !== 'punct') this.unexpected(t);
  }

  private unexpected(t: Token): never {
    const shown = t.kind === 'eof' ? '<EOF>' : t.kind === 'string' ? `'${t.text}'` : t.text;
    throw new SoqlError('MALFORMED_QUERY', `${this.echo(t.pos)}unexpected token: '${shown}'`);
  }

  /** Salesforce repeats the query around the fault, with a caret and its row and column. */
  private echo(pos: number): string {
    return `\n${this.text}\n${' '.repeat(Math.min(pos, this.text.length))}^\nERROR at ${rowColumn(this.text, pos)}\n`;
  }
}
