import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// Committed golden hashes of generated orgs. A change here means every fixture built on the sandbox changes:
// update them only for a deliberate change to the generator, and say so in the commit.
const GOLDEN = {
  small: 'b6afabb801bdcdc9daa9a27923ac488f7f081eca49f2a6f081be8556f7e88708',
  medium: 'cebb563436e64ff2e9700b0a890c366e11108d8aba766b77b9a9dd783b954e85',
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
