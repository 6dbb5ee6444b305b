/**
 * The generator's one source of randomness: a seeded sfc32 stream. Every draw the org generator makes comes from
 * a single `Rng` consumed in a fixed order, so the same (seed, size, anchor) always gives the same org, on any
 * machine and any Node version (only 32-bit integer arithmetic and `Math.log`/`Math.sqrt`/`Math.cos`, which V8
 * computes identically on every platform we ship to).
 */

/** The `k`-th splitmix32 output (1-based) from `seed`. */
function splitmix(seed: number, k: number): number {
  let z = (seed + Math.imul(k, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** A seeded pseudo-random stream with the draws the generator needs. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    // splitmix32 spreads a small integer seed over the 128-bit sfc32 state, so seeds 1 and 2 diverge at once.
    // (No closure for the steps: the large org makes an Rng for every deal and activity it serves.)
    const s = seed >>> 0;
    this.a = splitmix(s, 1);
    this.b = splitmix(s, 2);
    this.c = splitmix(s, 3);
    this.d = splitmix(s, 4);
    for (let i = 0; i < 12; i++) this.uint32();
  }

  /** A uniform unsigned 32-bit integer. */
  uint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /** Uniform integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** Picks by relative weights (which need not sum to 1). */
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    // Index loops rather than destructuring iteration: the same sums in the same order, without an iterator.
    let total = 0;
    for (let i = 0; i < items.length; i++) total += (items[i] as readonly [T, number])[1];
    let r = this.next() * total;
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as readonly [T, number];
      r -= item[1];
      if (r < 0) return item[0];
    }
    const last = items[items.length - 1];
    if (!last) throw new RangeError('weighted pick from an empty list');
    return last[0];
  }

  /** Standard normal (Box-Muller; one draw per call keeps the stream order simple). */
  normal(mean = 0, sd = 1): number {
    const u = 1 - this.next();
    const v = this.next();
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Log-normal with the given median and log-space sigma: the skew of deal sizes and cycle lengths. */
  logNormal(median: number, sigma: number): number {
    return median * Math.exp(this.normal(0, sigma));
  }

  /** Fisher-Yates, in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }
}
