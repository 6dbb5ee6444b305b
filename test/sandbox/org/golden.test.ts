import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// Committed golden hashes of generated orgs. A change here means every fixture built on the sandbox changes:
// update them only for a deliberate change to the generator, and say so in the commit.
const GOLDEN = {
  small: '4107f151dc43340b1779cadde4ddcc5677cf5c0ad54ef18a85ff97895d35e544',
  medium: '47df5a8f0860b96e3e2c2fa021125844603210289ec181f1272f1ac1d0ec0797',
};

/** Computes the hash in a fresh Node process, so nothing loaded or cached in this one can leak in. */
function hashInChild(seed: number, size: 'small' | 'medium', anchor: string): string {
  return execFileSync(
    process.execPath,
    ['bin/run-ts.js', 'test/sandbox/org/golden-hash.ts', String(seed), size, anchor],
    {
      encoding: 'utf8',
      timeout: 240_000,
    },
  ).trim();
}

describe('generated org golden hashes (fresh process)', () => {
  it('seed 42, small, anchor 2026-11-15', () => {
    expect(hashInChild(42, 'small', '2026-11-15')).toBe(GOLDEN.small);
  }, 60_000);

  it('seed 42, medium, anchor 2026-11-15', () => {
    expect(hashInChild(42, 'medium', '2026-11-15')).toBe(GOLDEN.medium);
  }, 240_000);
});
