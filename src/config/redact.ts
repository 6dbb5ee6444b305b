/**
 * A printable copy of the configuration: secrets replaced, everything else as is. Used by `config check`, logs
 * and the admin API; the interface file promises that secrets never appear in output.
 */
import type { Config } from './schema.ts';

export const REDACTED = '[redacted]';

/** Keys whose values are secrets wherever they appear. */
const SECRET_KEYS = new Set([
  'accesstoken',
  'webhooksecret',
  'password',
  'clientsecret',
  'refreshtoken',
  'privatekey',
  'secret',
  'token',
  'apikey',
]);

/** Under `auth` every value is treated as a secret except the kind of login, which says nothing. */
const AUTH_PUBLIC_KEYS = new Set(['kind']);

/** A copy of any config-shaped value with secrets replaced by `[redacted]` and URL passwords masked. */
export function redactValue<T>(value: T): T {
  const walk = (node: unknown, underAuth: boolean, key: string | null): unknown => {
    if (key !== null) {
      const k = key.toLowerCase();
      if (SECRET_KEYS.has(k) || (underAuth && !AUTH_PUBLIC_KEYS.has(key))) {
        return node === undefined || node === null ? node : REDACTED;
      }
    }
    if (typeof node === 'string') return redactUrl(node);
    if (Array.isArray(node)) return node.map((v) => walk(v, underAuth, null));
    if (node !== null && typeof node === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(node)) out[k] = walk(v, underAuth || k === 'auth', k);
      return out;
    }
    return node;
  };
  return walk(value, false, null) as T;
}

/** The configuration with every secret replaced, for printing. */
export function redactConfig(config: Config): Config {
  return redactValue(config);
}

/** `postgres://user:secret@host/db` -> `postgres://user:[redacted]@host/db`; other strings unchanged. */
export function redactUrl(s: string): string {
  return s.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):([^@/?#\s]*)@/i, (_m, head: string) => `${head}:${REDACTED}@`);
}
