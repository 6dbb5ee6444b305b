/**
 * Failed sign-ins and bad tokens, counted per client address: after 10 in a minute, every further attempt to
 * authenticate from that address (good or bad, so a guess cannot be confirmed) answers 429 with `Retry-After`
 * until the oldest failure is a minute old. In memory, per process: a restart forgets, and several web processes
 * each count their own.
 */
export interface FailureLimiterOptions {
  /** Failures allowed in the window. Default 10. */
  limit?: number;
  /** Default 60 s. */
  windowMs?: number;
  /** Addresses tracked at most (the least recently failing go first). Default 100,000. */
  maxAddresses?: number;
  /** Milliseconds now; the wall clock by default. */
  now?: () => number;
}

export class FailureLimiter {
  private readonly failures = new Map<string, number[]>();
  private readonly limit: number;
  private readonly windowMs: number;
  private readonly maxAddresses: number;
  private readonly now: () => number;

  constructor(options: FailureLimiterOptions = {}) {
    this.limit = options.limit ?? 10;
    this.windowMs = options.windowMs ?? 60_000;
    this.maxAddresses = options.maxAddresses ?? 100_000;
    this.now = options.now ?? (() => Date.now()); // wall-clock: a rate window is a duration
  }

  private recent(address: string, at: number): number[] {
    const list = (this.failures.get(address) ?? []).filter((t) => at - t < this.windowMs);
    if (list.length === 0) this.failures.delete(address);
    else this.failures.set(address, list);
    return list;
  }

  /** Seconds until the address may try again, or 0 when it may try now. */
  retryAfter(address: string): number {
    const at = this.now();
    const list = this.recent(address, at);
    if (list.length < this.limit) return 0;
    const oldest = list[list.length - this.limit] as number;
    return Math.max(1, Math.ceil((oldest + this.windowMs - at) / 1000));
  }

  fail(address: string): void {
    const at = this.now();
    const list = this.recent(address, at);
    list.push(at);
    this.failures.delete(address);
    this.failures.set(address, list);
    while (this.failures.size > this.maxAddresses) this.failures.delete(this.failures.keys().next().value as string);
  }
}
