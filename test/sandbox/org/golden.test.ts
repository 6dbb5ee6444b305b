import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// Committed golden hashes of generated orgs. A change here means every fixture built on the sandbox changes:
// update them only for a deliberate change to the generator, and say so in the commit.
const GOLDEN = {
  small: 'c3ad6ac5501dfb25a10f5fa53440e87d57d16d07e2b10767973479eebab433d5',
  medium: '3a7edee1ae76dc29fd9e8fca745427eec4e3e38e0b090115064424833fd151c8',
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
