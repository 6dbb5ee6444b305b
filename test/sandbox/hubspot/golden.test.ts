import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// Committed golden hashes of the HubSpot rendering of generated orgs (every object, history, association, owner,
// pipeline and rate). A change here means every fixture built on the HubSpot sandbox changes: update them only for
// a deliberate change to the generator or the rendering, and say so in the commit.
const GOLDEN = {
  small: 'a6eb51af3e6a7bdc7668a3e29b2a98c4d74e09d06ca6850f1ba4b96cfa2b1b92',
  bothSmall: '76ff01841df20f1354af07f7e01ed7fdf896964c2c51f71f1b7e8e9db15d0780',
  medium: '9c9d9c94c71bfef1107f3803b574d481b454cf499d7f426cbfdb5964995c1f9d',
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
