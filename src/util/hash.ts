import { hash } from 'node:crypto';

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
  // The one-shot hash: no Hash object (and its update/digest calls) per record synced.
  return hash('sha256', stableStringify(value), 'hex');
}

/** The keys of a row shape in their own order, and sorted; null when the shape is left to the replacer. */
interface Shape {
  keys: readonly string[];
  sorted: readonly string[] | null;
}

/** Shapes seen lately: a normalizer gives all its rows one, so a sync sorts a handful of key lists, not one a row. */
const shapes: Shape[] = [];
const MAX_SHAPES = 32;

function shapeOf(keys: readonly string[]): Shape {
  outer: for (const s of shapes) {
    if (s.keys.length !== keys.length) continue;
    for (let i = 0; i < keys.length; i++) if (s.keys[i] !== keys[i]) continue outer;
    return s;
  }
  // The replacer's sorted copy is an object too, so its integer-like keys come out first in numeric order, not in
  // the sort's: leave such objects to it (no normalized row has one). `__proto__` would set the copy's prototype.
  const plain = !keys.some((k) => /^(0|[1-9]\d*)$/.test(k) || k === '__proto__');
  const shape = { keys, sorted: plain ? [...keys].sort() : null };
  if (shapes.length >= MAX_SHAPES) shapes.shift();
  shapes.push(shape);
  return shape;
}

/**
 * The same text for a plain object whose values are all strings, finite numbers, booleans, null or undefined (a
 * normalized row: every record synced is hashed), without the replacer's sorted copy of it; undefined otherwise.
 * Its own copy has the keys inserted in sorted order, so one native JSON.stringify writes it: undefined values are
 * left out and strings escaped exactly as the replacer's path does, without a call per key and value.
 */
function flatStringify(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  if (Object.getPrototypeOf(value) !== Object.prototype) return undefined;
  const o = value as Record<string, unknown>;
  const sorted = shapeOf(Object.keys(o)).sorted;
  if (!sorted) return undefined;
  const copy: Record<string, unknown> = {};
  for (let i = 0; i < sorted.length; i++) {
    const k = sorted[i] as string;
    const v = o[k];
    if (
      v === undefined ||
      v === null ||
      typeof v === 'string' ||
      typeof v === 'boolean' ||
      (typeof v === 'number' && Number.isFinite(v))
    )
      copy[k] = v;
    else return undefined;
  }
  return JSON.stringify(copy);
}
