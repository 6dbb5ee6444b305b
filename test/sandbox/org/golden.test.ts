import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// Committed golden hashes of generated orgs. A change here means every fixture built on the sandbox changes:
// update them only for a deliberate change to the generator, and say so in the commit.
const GOLDEN = {
  small: '924edbba130223a658b8f86545c7a27ea49bee7f2a56975599cb18451b8d55cc',
  medium: 'cf4ede571c04864504ae80b093d248940d7c5dfedc95188f450c8a329dd230f5',
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
