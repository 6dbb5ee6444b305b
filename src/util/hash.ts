import { createHash } from 'node:crypto';

/** JSON with object keys sorted, so that equal values always serialize (and hash) the same. */
export function stableStringify(value: unknown): string {
  const flat = flatStringify(value);
  if (flat !== undefined) return flat;
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      return Object.fromEntries(
        Object.keys(o)
          .sort()
          .map((k) => [k, o[k]]),
      );
    }
    return v;
  });
}

/** sha256 hex of the stable JSON of a value: the content hash of normalized records and configs. */
export function contentHash(value: unknown): string {
  return createHash('sha256').update(stableStringify(value)).digest('hex');
}

/**
 * The same text for a plain object whose values are all strings, finite numbers, booleans, null or undefined (a
 * normalized row: every record synced is hashed), without the replacer's sorted copy of it; undefined otherwise.
 */
function flatStringify(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  if (Object.getPrototypeOf(value) !== Object.prototype) return undefined;
  const o = value as Record<string, unknown>;
  const keys = Object.keys(o).sort();
  // The replacer's sorted copy is an object too, so its integer-like keys come out first in numeric order, not in
  // the sort's: leave such objects to it (no normalized row has one).
  if (keys.some((k) => /^(0|[1-9]\d*)$/.test(k))) return undefined;
  let out = '{';
  for (const k of keys) {
    const v = o[k];
    let text: string;
    if (v === undefined) continue;
    if (v === null) text = 'null';
    else if (typeof v === 'string') text = JSON.stringify(v);
    else if (typeof v === 'boolean') text = v ? 'true' : 'false';
    else if (typeof v === 'number' && Number.isFinite(v)) text = JSON.stringify(v);
    else return undefined;
    out += `${out.length > 1 ? ',' : ''}${JSON.stringify(k)}:${text}`;
  }
  return `${out}}`;
}
