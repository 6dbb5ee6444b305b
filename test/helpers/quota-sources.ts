import { expect } from 'vitest';

/**
 * Two reports of the same org whose quotas come from different places (the CRM, or the quota file) differ only in
 * where each document's `sources.quota` says the quota came from. Returns a copy without those lists, and the
 * lists found (deduplicated), so a test can compare the rest exactly and check the sources apart.
 */
function splitQuotaSources(doc: unknown): { rest: unknown; quotaSources: string[] } {
  const found = new Set<string>();
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== 'object') return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === 'sources' && x !== null && typeof x === 'object' && 'quota' in x) {
        const { quota, ...other } = x as { quota: unknown };
        for (const q of Array.isArray(quota) ? quota : []) found.add(String(q));
        out[k] = walk(other);
      } else out[k] = walk(x);
    }
    return out;
  };
  const rest = walk(doc);
  return { rest, quotaSources: [...found].sort() };
}

/**
 * Asserts that `fromFile` (quotas from quotas.csv) equals `fromCrm` (the same quotas in the CRM) in everything but
 * where the quota came from, and that this says `file` in one and a CRM connection in the other, for a document
 * with a quota.
 */
export function expectSameButQuotaSource(fromFile: unknown, fromCrm: unknown, label: string, hasQuota: boolean): void {
  const file = splitQuotaSources(fromFile);
  const crm = splitQuotaSources(fromCrm);
  expect(file.rest, label).toEqual(crm.rest);
  if (!hasQuota) return;
  expect(file.quotaSources, label).toEqual(['file']);
  expect(crm.quotaSources, label).not.toContain('file');
  expect(crm.quotaSources.length, label).toBeGreaterThan(0);
}
