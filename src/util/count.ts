/** Every count the program prints for people (records, calls, rows), in one format: 1,677, never 1677 or 1.677. */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}
