/**
 * Two reports of the same org whose quotas come from different places (the CRM, or the quota file) differ only in
 * where each document's `sources.quota` says the quota came from. Returns a copy without those lists, and the
 * lists found (deduplicated), so a test can compare the rest exactly and check the sources apart.
 */
export function splitQuotaSources(doc: unknown): { rest: unknown; quotaSources: string[] } {
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
