/**
 * HubSpot's limits as one budget shared by every worker calling the portal with this app's token, the day's by
 * every worker calling the portal with any token (https://developers.hubspot.com/docs/api/usage-details):
 *
 * - the burst limit, a rolling 10-second window per app (100 to 190 calls by subscription). Its size comes from the
 *   answers themselves, `X-HubSpot-RateLimit-Max` and `-Interval-Milliseconds`; until one has been read, the lowest
 *   published (100 per 10 s) holds;
 * - the search endpoints' own limit, five requests a second per token
 *   (https://developers.hubspot.com/docs/api-reference/search/guide#limitations; the search changelog,
 *   https://developers.hubspot.com/changelog/crm-search-api-rate-limit-increase, counts it "per authentication
 *   token"); searches carry no rate-limit headers, so this one is never learned, only configured;
 * - the day's allocation: `sync.apiBudgetShare` of it, checked against the usage endpoint
 *   (`/account-info/v3/api-usage/daily/private-apps`: `usageLimit`, `currentUsage`, `collectedAt`, `resetsAt`)
 *   before the first call that counts and again at the first call on or after `resetsAt` (a worker keeps its
 *   connector for days; the reset is read on HubSpot's clock, which `collectedAt` relates to this one), and kept
 *   current from `X-HubSpot-RateLimit-Daily` / `-Daily-Remaining` on every private-app answer of the day being
 *   counted. At the share, the stream stops with CRM_BUDGET_EXHAUSTED (status `stopped_budget`) naming the reset;
 *   the first call after the reset asks the usage endpoint again and the stream resumes from its cursor. When the
 *   endpoint cannot be read the share goes unchecked until it is asked again: a minute later after a failure that
 *   may pass (5xx, timeout), an hour later when the token cannot read it (OAuth, a missing scope).
 *
 * Slots are taken before a call and held until a window after its answer (../rate-budget.ts), so two workers never
 * send more than the window allows between them, whatever their requests' latency.
 */
import { createHash } from 'node:crypto';
import { now as clockNow } from '../../clock.ts';
import { AppError } from '../../errors.ts';
import type { Logger } from '../../util/log.ts';
import { abortableSleep } from '../../util/sleep.ts';
import type { DailyUsage, RateBudget } from '../rate-budget.ts';

/** The lowest burst limit HubSpot publishes for a private app (Starter), until the answers say the portal's. */
export const DEFAULT_TEN_SECONDLY = { max: 100, windowMs: 10_000 };
export const SEARCH_PER_SECOND = 5;
/** How soon the usage endpoint is asked again after an answer that may pass (5xx, timeout) / one that will not. */
export const USAGE_RETRY_MS = { transient: 60_000, refused: 3_600_000 };

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
  /** The program's clock (clock.ts), against which `resetsAt` is compared; a sandbox's in tests. */
  now?: () => Date;
  /**
   * The portal the token reaches (`/account-info/v3/details`), asked once before the day is first counted: the
   * daily allocation is the portal's, shared by all its apps and tokens. Without it (or when HubSpot names none) the
   * day is counted per token.
   */
  portal?: () => Promise<string | undefined>;
}

/** What `/account-info/v3/api-usage/daily/private-apps` answers. */
export interface UsageAnswer {
  results?: Array<{
    name?: string;
    usageLimit?: number;
    currentUsage?: number;
    collectedAt?: string;
    resetsAt?: string;
  }>;
}

export class HubSpotLimits {
  /** The app's windows (burst, search): HubSpot counts them per app and token. */
  private readonly key: string;
  /** The day's key: the portal's (every token and app of it counts against one allocation), once known. */
  private dailyKey: string | null = null;
  private burst = { ...DEFAULT_TEN_SECONDLY };
  private readonly searchMax: number;
  /** The day being counted, as HubSpot last reported it (null: unchecked). */
  private day: DailyUsage | null = null;
  /** When the usage endpoint is to be asked (epoch ms): at once, at the day's reset, or after a failed ask. */
  private askAt = 0;
  /**
   * This clock minus HubSpot's (ms), from the usage answer's `collectedAt`: `resetsAt` is HubSpot's instant, and a
   * clock set elsewhere (`QUOTA_TRACKER_NOW`, a skewed host) must still see the day turn when HubSpot's does.
   */
  private skew = 0;
  private unavailableSaid = false;

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

  private nowMs(): number {
    return (this.o.now ?? clockNow)().getTime();
  }

  /** The day last reported, while it lasts: past its reset its count says nothing of today's. */
  private current(): DailyUsage | null {
    const d = this.day;
    return d && this.nowMs() < Date.parse(d.resetsAt) + this.skew ? d : null;
  }

  /**
   * The key the day is counted under: the portal's, so two connections with different tokens (two private apps, a
   * rotated token) to one portal share one day, as HubSpot counts it: the usage endpoint gives "the daily API usage
   * for private apps in the account"
   * (https://developers.hubspot.com/docs/api-reference/legacy/account/account-information/get-usage-details), one
   * count and limit for the account whichever app asks, where the burst limit is per app
   * (https://developers.hubspot.com/docs/api/usage-details). Asked once; a portal HubSpot does not name falls back to
   * the token.
   */
  async resolveDailyKey(): Promise<string> {
    if (this.dailyKey !== null) return this.dailyKey;
    const portal = this.o.portal ? await this.o.portal() : undefined;
    this.dailyKey = portal !== undefined ? `hubspot:${this.o.basePath}|portal:${portal}:daily` : `${this.key}:daily`;
    return this.dailyKey;
  }

  /** The day's key once resolved (a day is only current after a usage report, which resolves it). */
  private get dayKey(): string {
    return this.dailyKey ?? `${this.key}:daily`;
  }

  private async spendDaily(where: string): Promise<void> {
    if (this.current() === null) return;
    const d = await this.o.budget.countDaily(this.dayKey, 1);
    if (d === null) return;
    this.adopt(d);
    if (d.used - 1 >= this.o.share * d.limit) throw this.exhausted(d, where);
  }

  /** The budget's day (another worker may have reported the next one): the next ask is at its reset. */
  private adopt(d: DailyUsage): void {
    const reset = Date.parse(d.resetsAt);
    this.day = d;
    this.askAt = Number.isFinite(reset) ? reset + this.skew : this.nowMs() + USAGE_RETRY_MS.transient;
    this.unavailableSaid = false;
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

  /**
   * HubSpot answered 429 DAILY: the portal's allocation is spent (every app of the portal counts, not only this
   * one). The day is kept as used up to its limit, so no worker calls again before the reset; the stream stops with
   * `stopped_budget`. A day not known yet (no usage report: the token cannot read it) is not written: the next run
   * asks HubSpot again, and is refused again until midnight in the portal's time zone.
   */
  async dailyRefused(where: string): Promise<AppError> {
    const d = this.current();
    const kept = d
      ? await this.o.budget.reportDaily(this.dayKey, { used: d.limit, limit: d.limit, resetsAt: d.resetsAt })
      : null;
    if (kept) this.adopt(kept);
    return new AppError(
      'CRM_BUDGET_EXHAUSTED',
      `HubSpot refused the call: the portal's daily API allocation is used up (429 DAILY; every app of the portal ` +
        `counts); the stream stops here and resumes from its cursor after HubSpot resets the count ${
          kept ? `at ${kept.resetsAt}` : "at midnight in the portal's time zone"
        }`,
      {
        where,
        retryable: true,
        details: { status: 429, crmCode: 'DAILY', ...(kept ? { limit: kept.limit, resetsAt: kept.resetsAt } : {}) },
      },
    );
  }

  /** The portal's day as the budget keeps it now (null before a usage report, or once its reset has passed). */
  async usage(): Promise<{ used: number; limit: number } | null> {
    if (this.current() === null) return null;
    const d = await this.o.budget.daily(this.dayKey);
    return d ? { used: d.used, limit: d.limit } : null;
  }

  /** Whether the usage endpoint is due: never asked, the day it reported has reset, or a failed ask is to be retried. */
  needsUsage(): boolean {
    return this.nowMs() >= this.askAt;
  }

  /** The usage endpoint's answer: the day as HubSpot counts it. Throws when the share is spent (given `where`). */
  async reportUsage(a: UsageAnswer, where: string | null): Promise<void> {
    const r = a.results?.find((x) => x.name === 'private-apps-api-calls-daily') ?? a.results?.[0];
    const resetsAt = r?.resetsAt ? Date.parse(r.resetsAt) : Number.NaN;
    if (!r || typeof r.usageLimit !== 'number' || typeof r.currentUsage !== 'number' || !Number.isFinite(resetsAt)) {
      this.usageUnavailable(`the daily usage endpoint gave no usage: ${JSON.stringify(a).slice(0, 200)}`, false);
      return;
    }
    const collected = r.collectedAt ? Date.parse(r.collectedAt) : Number.NaN;
    this.skew = Number.isFinite(collected) ? this.nowMs() - collected : 0;
    const day = await this.o.budget.reportDaily(await this.resolveDailyKey(), {
      used: r.currentUsage,
      limit: r.usageLimit,
      resetsAt: new Date(resetsAt).toISOString(),
    });
    this.adopt(day);
    // A reset already gone by (a stale answer) would have every call ask again: once a minute is enough.
    if (this.askAt <= this.nowMs()) this.askAt = this.nowMs() + USAGE_RETRY_MS.transient;
    if (where !== null && day.used >= this.o.share * day.limit) throw this.exhausted(day, where);
  }

  /**
   * The usage endpoint cannot be read: the share goes unchecked until it is asked again, a minute on after a
   * failure that may pass (`transient`), an hour on when the token cannot read it (OAuth, a missing scope).
   * Said once until an ask succeeds.
   */
  usageUnavailable(reason: string, transient: boolean): void {
    if (!this.unavailableSaid) {
      this.o.log.warn(
        { reason },
        'hubspot: the daily usage endpoint cannot be read; the daily share is not checked until it can be',
      );
    }
    this.unavailableSaid = true;
    this.day = null;
    this.askAt = this.nowMs() + (transient ? USAGE_RETRY_MS.transient : USAGE_RETRY_MS.refused);
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
    // Only the day being counted takes the headers: past its reset they count a day whose reset is not known yet.
    const day = this.current();
    // Only news is written: HubSpot's count above what this budget has counted (another worker, another app).
    if (
      day &&
      Number.isInteger(daily) &&
      Number.isInteger(remaining) &&
      daily > 0 &&
      (daily - remaining > day.used || daily !== day.limit)
    ) {
      this.adopt(
        await this.o.budget.reportDaily(this.dayKey, {
          used: daily - remaining,
          limit: daily,
          resetsAt: day.resetsAt,
        }),
      );
    }
  }
}
