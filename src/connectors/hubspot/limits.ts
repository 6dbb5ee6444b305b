/**
 * HubSpot's limits as one budget shared by every worker calling the portal with this app's token
 * (https://developers.hubspot.com/docs/api/usage-details):
 *
 * - the burst limit, a rolling 10-second window per app (100 to 190 calls by subscription). Its size comes from the
 *   answers themselves, `X-HubSpot-RateLimit-Max` and `-Interval-Milliseconds`; until one has been read, the lowest
 *   published (100 per 10 s) holds;
 * - the search endpoints' own limit, five requests a second per token
 *   (https://developers.hubspot.com/docs/api-reference/search/guide#limitations; the search changelog,
 *   https://developers.hubspot.com/changelog/crm-search-api-rate-limit-increase, counts it "per authentication
 *   token"); searches carry no rate-limit headers, so this one is never learned, only configured;
 * - the day's allocation: `sync.apiBudgetShare` of it, checked against the usage endpoint
 *   (`/account-info/v3/api-usage/daily/private-apps`: `usageLimit`, `currentUsage`, `resetsAt`) once per connector
 *   and kept current from `X-HubSpot-RateLimit-Daily` / `-Daily-Remaining` on every private-app answer. At the
 *   share, the stream stops with CRM_BUDGET_EXHAUSTED (status `stopped_budget`) naming the reset; the next sync
 *   asks the usage endpoint again and resumes from the stream's cursor once the day has turned.
 *
 * Slots are taken before a call and held until a window after its answer (../rate-budget.ts), so two workers never
 * send more than the window allows between them, whatever their requests' latency.
 */
import { createHash } from 'node:crypto';
import { AppError } from '../../errors.ts';
import type { Logger } from '../../util/log.ts';
import { abortableSleep } from '../../util/sleep.ts';
import type { DailyUsage, RateBudget } from '../rate-budget.ts';

/** The lowest burst limit HubSpot publishes for a private app (Starter), until the answers say the portal's. */
export const DEFAULT_TEN_SECONDLY = { max: 100, windowMs: 10_000 };
export const SEARCH_PER_SECOND = 5;

export interface HubSpotLimitsOptions {
  budget: RateBudget;
  accessToken: string;
  basePath: string;
  /** `sync.apiBudgetShare`: the share of the daily allocation this tool may use. */
  share: number;
  /** The search limit to keep to (HubSpot's 5 a second unless a sandbox says otherwise). */
  searchPerSecond?: number;
  log: Logger;
  signal?: AbortSignal;
}

/** What `/account-info/v3/api-usage/daily/private-apps` answers. */
export interface UsageAnswer {
  results?: Array<{ name?: string; usageLimit?: number; currentUsage?: number; resetsAt?: string }>;
}

export class HubSpotLimits {
  private readonly key: string;
  private burst = { ...DEFAULT_TEN_SECONDLY };
  private readonly searchMax: number;
  private day: DailyUsage | null = null;

  constructor(private readonly o: HubSpotLimitsOptions) {
    // The token, hashed: every worker of the connection shares the key, and no secret is stored.
    const app = createHash('sha256').update(`${o.basePath}\n${o.accessToken}`).digest('hex').slice(0, 24);
    this.key = `hubspot:${app}`;
    this.searchMax = o.searchPerSecond ?? SEARCH_PER_SECOND;
  }

  /**
   * Waits for a slot of the burst window (or the search window) and counts the call against the day's share
   * (`where` null: a call the share does not stop). The returned release holds the slot one window more, the
   * window as the answer said it.
   */
  async acquire(isSearch: boolean, where: string | null): Promise<() => Promise<void>> {
    if (where !== null) await this.spendDaily(where);
    const key = isSearch ? `${this.key}:search` : `${this.key}:burst`;
    const window = () => (isSearch ? { max: this.searchMax, windowMs: 1000 } : this.burst);
    for (;;) {
      if (this.o.signal?.aborted) throw this.o.signal.reason;
      const { max, windowMs } = window();
      const r = await this.o.budget.take(key, max, windowMs);
      if ('slot' in r) return () => this.o.budget.release(key, r.slot, window().windowMs);
      // Real time: the window is HubSpot's, measured on the clock it keeps.
      await abortableSleep(r.waitMs, this.o.signal);
    }
  }

  private async spendDaily(where: string): Promise<void> {
    if (this.day === null) return;
    const d = await this.o.budget.countDaily(`${this.key}:daily`, 1);
    if (d === null) return;
    this.day = d;
    if (d.used - 1 >= this.o.share * d.limit) throw this.exhausted(d, where);
  }

  exhausted(d: DailyUsage, where: string): AppError {
    return new AppError(
      'CRM_BUDGET_EXHAUSTED',
      `the HubSpot portal has used ${d.used} of its ${d.limit} daily API calls, at or past the configured share of ` +
        `${Math.round(this.o.share * 100)}% (sync.apiBudgetShare); the stream stops here and resumes from its cursor ` +
        `after HubSpot resets the count at ${d.resetsAt}`,
      { where, retryable: true, details: { used: d.used, limit: d.limit, share: this.o.share, resetsAt: d.resetsAt } },
    );
  }

  /** Whether the day has been checked against the usage endpoint yet (once per connector). */
  needsUsage(): boolean {
    return this.day === null;
  }

  /** The usage endpoint's answer: the day as HubSpot counts it. Throws when the share is spent (given `where`). */
  async reportUsage(a: UsageAnswer, where: string | null): Promise<void> {
    const r = a.results?.find((x) => x.name === 'private-apps-api-calls-daily') ?? a.results?.[0];
    if (!r || typeof r.usageLimit !== 'number' || typeof r.currentUsage !== 'number' || !r.resetsAt) {
      this.o.log.warn({ answer: a }, 'hubspot: the daily usage endpoint gave no usage; the daily share is not checked');
      this.day = { used: 0, limit: Number.POSITIVE_INFINITY, resetsAt: '' };
      return;
    }
    this.day = await this.o.budget.reportDaily(`${this.key}:daily`, {
      used: r.currentUsage,
      limit: r.usageLimit,
      resetsAt: r.resetsAt,
    });
    if (where !== null && this.day.used >= this.o.share * this.day.limit) throw this.exhausted(this.day, where);
  }

  /** The usage endpoint cannot be read (an OAuth token, a missing scope): the share goes unchecked, said once. */
  usageUnavailable(reason: string): void {
    this.o.log.warn({ reason }, 'hubspot: the daily usage endpoint cannot be read; the daily share is not checked');
    this.day = { used: 0, limit: Number.POSITIVE_INFINITY, resetsAt: '' };
  }

  /** Learns the burst window from an answer's headers and the day's count from its daily headers. */
  async learn(headers: Readonly<Record<string, string>>): Promise<void> {
    const max = Number(headers['x-hubspot-ratelimit-max']);
    const interval = Number(headers['x-hubspot-ratelimit-interval-milliseconds']);
    if (Number.isInteger(max) && max > 0 && Number.isInteger(interval) && interval > 0) {
      this.burst = { max, windowMs: interval };
    }
    const daily = Number(headers['x-hubspot-ratelimit-daily']);
    const remaining = Number(headers['x-hubspot-ratelimit-daily-remaining']);
    const day = this.day;
    // Only news is written: HubSpot's count above what this budget has counted (another worker, another app).
    if (
      day?.resetsAt &&
      Number.isInteger(daily) &&
      Number.isInteger(remaining) &&
      daily > 0 &&
      (daily - remaining > day.used || daily !== day.limit)
    ) {
      this.day = await this.o.budget.reportDaily(`${this.key}:daily`, {
        used: daily - remaining,
        limit: daily,
        resetsAt: day.resetsAt,
      });
    }
  }
}
