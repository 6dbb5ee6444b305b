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
  // A Slack incoming-webhook URL is its own credential.
  'webhook',
]);

/** Under `auth` every value is treated as a secret except the kind of login, which says nothing. */
const AUTH_PUBLIC_KEYS = new Set(['kind']);

/** A copy of any config-shaped value with secrets replaced by `[redacted]` and URL passwords masked. */
export function redactValue<T>(value: T): T {
  const walk = (node: unknown, inAuth: boolean): unknown => {
    if (typeof node === 'string') return redactUrl(node);
    if (Array.isArray(node)) return node.map((v) => walk(v, inAuth));
    if (node !== null && typeof node === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(node)) {
        const secret = SECRET_KEYS.has(k.toLowerCase()) || (inAuth && !AUTH_PUBLIC_KEYS.has(k));
        out[k] = secret && v !== undefined && v !== null ? REDACTED : walk(v, inAuth || k === 'auth');
      }
      return out;
    }
    return node;
  };
  return walk(value, false) as T;
}

/** The configuration with every secret replaced, for printing. */
export function redactConfig(config: Config): Config {
  return redactValue(config);
}

/** `postgres://user:secret@host/db` -> `postgres://user:[redacted]@host/db`; other strings unchanged. */
export function redactUrl(s: string): string {
  return s.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):([^@/?#\s]*)@/i, (_m, head: string) => `${head}:${REDACTED}@`);
}
