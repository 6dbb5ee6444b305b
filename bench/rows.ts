import type { BenchRow } from './index.ts';

/** A row whose `met` is worked out from its goal (`< 60`, `>= 1.6`, `<= 12.5`). */
export function row(value: number, unit: string, goal: string): BenchRow {
  const [op, bound] = goal.split(' ') as [string, string];
  const b = Number(bound);
  const met = op === '>=' ? value >= b : op === '<=' ? value <= b : op === '<' ? value < b : value > b;
  return { value: Number(value.toFixed(3)), unit, goal, met };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}
