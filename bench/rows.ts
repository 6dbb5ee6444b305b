import type { BenchResult, BenchRow } from './index.ts';

/** A row whose `met` is worked out from its goal (`< 60`, `>= 1.6`, `<= 12.5`), with the least it could be if known. */
export function row(value: number, unit: string, goal: string, minimum?: number): BenchRow {
  const [op, bound] = goal.split(' ') as [string, string];
  const b = Number(bound);
  const met = op === '>=' ? value >= b : op === '<=' ? value <= b : op === '<' ? value < b : value > b;
  return { value: Number(value.toFixed(3)), unit, goal, met, ...(minimum !== undefined ? { minimum } : {}) };
}

/** The result of a row benchmark a stage of which did not complete (the bench command then exits 1). */
export function incomplete(name: string, why: string, figures: Record<string, unknown> = {}): BenchResult {
  return { name, ok: false, summary: `a stage did not complete: ${why}`, metrics: {}, rows: {}, figures };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}
