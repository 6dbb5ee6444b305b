/**
 * Faults on demand, deterministic by seed: a rule says which requests it hits (method, path substring) and how
 * often (the next `count` matching requests, or each with a `probability` drawn from a seeded generator), and what
 * happens: 429 with Retry-After, the 403 REQUEST_LIMIT_EXCEEDED variant, 500/503, a slow answer, a connection
 * dropped mid-response, a QUERY_TIMEOUT, or an expired session.
 */
import { mulberry32 } from '../../util/random.ts';

export type FaultKind =
  | 'rate_limit_429'
  | 'request_limit_403'
  | 'error_500'
  | 'unavailable_503'
  /** 400 QUERY_TIMEOUT, what Salesforce answers when a query on a big object runs too long. */
  | 'query_timeout'
  | 'slow'
  | 'drop'
  | 'expire_session';

export interface FaultRule<K extends string = FaultKind> {
  kind: K;
  /** Only requests with this method (case-insensitive). */
  method?: string;
  /** Only requests whose path contains this string (e.g. '/query', '/composite/sobjects', '/oauth2/token'). */
  path?: string;
  /** Let the first `skip` matching requests through, then start hitting (a fault by call number). */
  skip?: number;
  /** Hit the next `count` matching requests, then retire. */
  count?: number;
  /** Hit each matching request with this probability (0..1). Without count or probability: every match. */
  probability?: number;
  /** Seconds sent in Retry-After (429, and 403/503 when given). Default 2 for 429. */
  retryAfterSeconds?: number;
  /** Delay for `slow` (default 2000 ms). */
  delayMs?: number;
}

export interface ActiveFault<K extends string = FaultKind> extends FaultRule<K> {
  id: number;
  /** How many requests this rule has hit so far. */
  hits: number;
  /** How many matching requests it has seen (skipped ones included). */
  seen: number;
}

/** A float in [0, 1) per call from mulberry32: fault selection that repeats from its seed. */
function uniform(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
}

export class FaultInjector<K extends string = FaultKind> {
  private rules: ActiveFault<K>[] = [];
  private nextId = 1;
  private random: () => number;

  constructor(private readonly seed = 1) {
    this.random = uniform(seed);
  }

  /** Adds a rule; returns its id for `remove`. */
  add(rule: FaultRule<K>): number {
    if (rule.probability !== undefined && (rule.probability < 0 || rule.probability > 1)) {
      throw new RangeError(`fault probability must be within 0..1, got ${rule.probability}`);
    }
    const id = this.nextId++;
    this.rules.push({ ...rule, id, hits: 0, seen: 0 });
    return id;
  }

  remove(id: number): void {
    this.rules = this.rules.filter((r) => r.id !== id);
  }

  /** Removes every rule and restarts the random sequence, so a test run is reproducible from here. */
  clear(): void {
    this.rules = [];
    this.random = uniform(this.seed);
  }

  list(): ActiveFault<K>[] {
    return this.rules.map((r) => ({ ...r }));
  }

  /** The fault to apply to this request, if any; the first matching rule that fires wins. */
  pick(method: string, path: string): ActiveFault<K> | null {
    for (const rule of this.rules) {
      if (rule.method && rule.method.toUpperCase() !== method.toUpperCase()) continue;
      if (rule.path && !path.includes(rule.path)) continue;
      rule.seen++;
      if (rule.skip !== undefined && rule.seen <= rule.skip) continue;
      if (rule.count !== undefined) {
        if (rule.hits >= rule.count) continue;
      } else if (rule.probability !== undefined && this.random() >= rule.probability) {
        continue;
      }
      rule.hits++;
      const hit = { ...rule };
      if (rule.count !== undefined && rule.hits >= rule.count) this.remove(rule.id);
      return hit;
    }
    return null;
  }
}
