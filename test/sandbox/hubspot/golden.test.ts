import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// Committed golden hashes of the HubSpot rendering of generated orgs (every object, history, association, owner,
// pipeline and rate). A change here means every fixture built on the HubSpot sandbox changes: update them only for
// a deliberate change to the generator or the rendering, and say so in the commit.
const GOLDEN = {
  small: 'd30e575c3154fce46a526f790a91609c7e2150d56a67763f0e8d70572614042e',
  bothSmall: '0d4d81eea0e2536c553139fb8da9250d2675dfd4c64f58ee4387b57e6c850041',
  medium: '788bc165fab035c8dcfb4a7a497b09af332833119d5a0902d239cf82b6fbc3ad',
};

/** Computes the hash in a fresh Node process, so nothing loaded or cached in this one can leak in. */
function hashInChild(seed: number, size: 'small' | 'medium', anchor: string, part?: 'both'): string {
  return execFileSync(
    process.execPath,
    ['bin/run-ts.js', 'test/sandbox/hubspot/golden-hash.ts', String(seed), size, anchor, ...(part ? [part] : [])],
    { encoding: 'utf8', timeout: 300_000 },
  ).trim();
}

describe('HubSpot sandbox golden hashes (fresh process)', () => {
  it('seed 42, small, anchor 2026-11-15', () => {
    expect(hashInChild(42, 'small', '2026-11-15')).toBe(GOLDEN.small);
  }, 60_000);

  it('seed 42, small, anchor 2026-11-15, the HubSpot part of --crm both', () => {
    expect(hashInChild(42, 'small', '2026-11-15', 'both')).toBe(GOLDEN.bothSmall);
  }, 60_000);

  // About 40 s and 1.2 GB: with the heavy tests.
  it.runIf(process.env.QT_HEAVY === '1')(
    'seed 42, medium, anchor 2026-11-15',
    () => {
      expect(hashInChild(42, 'medium', '2026-11-15')).toBe(GOLDEN.medium);
    },
    300_000,
  );
});
