/**
 * A group's credit lists (the won and lost credits of its conversion windows, its open and overdue pipeline) hold
 * every member's credits: for the org, tens of thousands. No figure is computed from them (the sums and counts
 * are merged apart); only an explanation reads them. A merge therefore defines them to be concatenated when first
 * read, so recomputing a group after one change never copies them.
 */
import type { Credit } from './booking.ts';

/**
 * Defines `target[key]` as the concatenation of `lists()`, made on first read and kept (a plain property from
 * then on; assigning replaces it as well).
 */
export function concatOnRead<K extends string>(
  target: { [k in K]: Credit[] },
  key: K,
  lists: () => readonly (readonly Credit[])[],
): void {
  const settle = (value: Credit[]) =>
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  Object.defineProperty(target, key, {
    enumerable: true,
    configurable: true,
    get() {
      const out: Credit[] = [];
      for (const list of lists()) for (const c of list) out.push(c);
      settle(out);
      return out;
    },
    set(value: Credit[]) {
      settle(value);
    },
  });
}
