import { createHash } from 'node:crypto';
import type { OrgModel } from './model.ts';

/**
 * Canonical JSON of plain data (objects with sorted keys, undefined members dropped): the same text as
 * `stableStringify` from util/hash.ts for the model's plain records, but several times faster, which matters
 * for the medium org's million records.
 */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) {
    let s = '[';
    for (let i = 0; i < v.length; i++) s += (i ? ',' : '') + (v[i] === undefined ? 'null' : canonicalJson(v[i]));
    return `${s}]`;
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).sort();
  let s = '{';
  let first = true;
  for (const k of keys) {
    const x = o[k];
    if (x === undefined || typeof x === 'function') continue;
    s += `${first ? '' : ','}${JSON.stringify(k)}:${canonicalJson(x)}`;
    first = false;
  }
  return `${s}}`;
}

/**
 * sha256 of an org model: its scalars, then every record of every list in a fixed order, each as JSON on its own
 * line. Records are serialized with their keys in construction order (native JSON.stringify, fast enough for a
 * medium org's million records); the generator builds every record of a kind through one code path, so that
 * order is fixed by the code, and a change to it is a deliberate change of the golden hashes.
 */
export function orgHash(org: OrgModel): string {
  const h = createHash('sha256');
  const { currencies, regions, teams, people, quotas, deals, activities, leads, quarters, ...scalars } = org;
  h.update(`${canonicalJson(scalars)}\n`);
  const lists: [string, readonly unknown[]][] = [
    ['quarters', quarters],
    ['currencies', currencies],
    ['regions', regions],
    ['teams', teams],
    ['people', people],
    ['quotas', quotas],
    ['deals', deals],
    ['activities', activities],
    ['leads', leads],
  ];
  for (const [name, list] of lists) {
    h.update(`#${name} ${list.length}\n`);
    let chunk = '';
    for (const item of list) {
      chunk += `${JSON.stringify(item)}\n`;
      if (chunk.length > 1 << 20) {
        h.update(chunk);
        chunk = '';
      }
    }
    h.update(chunk);
  }
  return h.digest('hex');
}
