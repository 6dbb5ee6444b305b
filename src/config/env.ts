/**
 * `${NAME}` and `${NAME:-default}` in configuration values, as the interface file promises: a missing variable
 * is an error naming it and the key path, `:-` falls back (also when the variable is set but empty, as in the
 * shell), and `$${` is a literal `${`. A value that ends up empty counts as not given, so that the key's default
 * or its environment fallback applies.
 */
import { parseDocument } from 'yaml';
import { AppError } from '../errors.ts';

// One pass over `$${` (a literal) and references, so that a variable's value is never itself unescaped.
const REF_RE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export type Env = Readonly<Record<string, string | undefined>>;

/** Formats a key path as users write it: `connections[0].auth.clientId`. */
export function formatKeyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(top level)' : out;
}

/** Replaces the references in one string; `where` is its key path for the error. */
export function interpolateString(value: string, env: Env, where: string, used?: Set<string>): string {
  return value.replace(REF_RE, (match, name: string | undefined, fallback: string | undefined) => {
    if (name === undefined) return match.slice(1);
    used?.add(name);
    const v = env[name];
    if (fallback !== undefined) return v === undefined || v === '' ? fallback : v;
    if (v === undefined) {
      throw new AppError(
        'CONFIG_ENV_MISSING',
        `environment variable ${name} is not set, and the configuration needs it`,
        {
          where,
          details: { variable: name },
        },
      );
    }
    return v;
  });
}

/**
 * Interpolates every string in a parsed YAML tree (values, not keys) and drops values that end up empty, so that
 * `url: ${DATABASE_URL:-}` with no DATABASE_URL is the same as leaving `url` out.
 */
export function interpolateTree(tree: unknown, env: Env, used?: Set<string>): unknown {
  const walk = (node: unknown, path: PropertyKey[]): unknown => {
    if (typeof node === 'string') {
      const out = interpolateString(node, env, formatKeyPath(path), used);
      return out.trim() === '' ? undefined : out;
    }
    if (Array.isArray(node)) {
      return node.map((v, i) => walk(v, [...path, i])).filter((v) => v !== undefined);
    }
    if (node !== null && typeof node === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(node)) {
        const w = walk(v, [...path, k]);
        if (w !== undefined) out[k] = w;
      }
      return out;
    }
    return node;
  };
  return walk(tree, []);
}

// Unquoted `${...}` is not valid YAML inside a flow mapping (`{ url: ${DATABASE_URL:-} }`, as the interface file
// writes it), because `{` and `}` are flow indicators. Each reference is swapped for a placeholder of private-use
// characters of the same length before parsing, so error columns stay right, and swapped back in the values.
const PH_OPEN = '\uE000';
const PH_PAD = '\uE001';
const PH_RE = /\uE000([0-9a-z]+)\uE001*/g;

/**
 * Parses YAML text that may contain unquoted `${...}` references anywhere, returning plain data with the
 * references still in it (for `interpolateTree`). A syntax error is CONFIG_FILE with the line and column.
 */
export function parseYamlWithRefs(text: string, file: string): unknown {
  const refs: string[] = [];
  // `$${...}` (a literal) is masked too: it is just as invalid inside a flow mapping.
  const masked = text.replace(/\$?\$\{[^}\n]*\}/g, (ref) => {
    const id = (refs.push(ref) - 1).toString(36);
    return PH_OPEN + id + PH_PAD.repeat(Math.max(0, ref.length - id.length - 1));
  });
  const doc = parseDocument(masked, { prettyErrors: true, uniqueKeys: true });
  const err = doc.errors[0];
  if (err) {
    const [line, col] = err.linePos?.[0] ? [err.linePos[0].line, err.linePos[0].col] : [0, 0];
    const reason = err.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? err.message;
    throw new AppError('CONFIG_FILE', `the configuration file is not valid YAML: ${reason}`, {
      where: `${file}:${line}:${col}`,
    });
  }
  const unmask = (node: unknown, path: readonly (string | number)[]): unknown => {
    if (typeof node === 'string') return node.replace(PH_RE, (_m, id: string) => refs[Number.parseInt(id, 36)] ?? '');
    if (Array.isArray(node)) return node.map((v, i) => unmask(v, [...path, i]));
    if (node !== null && typeof node === 'object') {
      return Object.fromEntries(
        Object.entries(node).map(([k, v]) => {
          const key = unmask(k, path) as string;
          // No setting is called that, and a merge or a copy would make it the object's prototype.
          if (key === '__proto__') {
            throw new AppError(
              'CONFIG_INVALID',
              `invalid configuration at ${formatKeyPath([...path, key])}: unknown key "__proto__"`,
              {
                where: formatKeyPath([...path, key]),
              },
            );
          }
          return [key, unmask(v, [...path, key])];
        }),
      );
    }
    return node;
  };
  let js: unknown;
  try {
    js = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    // yaml refuses documents whose aliases expand past maxAliasCount (the "billion laughs" attack).
    throw new AppError('CONFIG_FILE', `the configuration file is not usable YAML: ${(e as Error).message}`, {
      where: file,
      cause: e,
    });
  }
  return unmask(js, []);
}
