/**
 * HubSpot's API limits as the usage guidelines give them: a rolling 10-second burst limit per app, a daily limit
 * per account that resets at midnight in the account's time zone, and the search endpoints' own limit of 5
 * requests a second per account. Within the limits, responses carry `X-HubSpot-RateLimit-Max`, `-Remaining` and
 * `-Interval-Milliseconds` (plus `-Daily` and `-Daily-Remaining` for private apps; OAuth calls get no daily
 * headers); search responses carry none. Past them: a 429 with HubSpot's body, `policyName` `TEN_SECONDLY_ROLLING`,
 * `DAILY` or `SECONDLY` (search).
 *
 * The burst windows run on real time (a client's pace is real), the daily count on the org clock's date.
 */
import { randomUUID } from 'node:crypto';
import { dateInZone } from '../../util/date.ts';
import type { TokenKind } from './auth.ts';
import type { Reply } from './crm.ts';

export type HubSpotProfile = 'starter' | 'professional' | 'enterprise' | 'no-custom-objects';

export const PROFILES: Readonly<
  Record<
    HubSpotProfile,
    { label: string; tenSecondly: number; daily: number; customObjects: boolean; leadsObject: boolean }
  >
> = {
  // The leads object (and lead pipelines) come with Sales Hub Professional and Enterprise
  // (https://developers.hubspot.com/docs/methods/pipelines/pipelines_overview): a Starter portal's leads are
  // contacts at lifecycle stage `lead`.
  starter: { label: 'Starter portal', tenSecondly: 100, daily: 250_000, customObjects: false, leadsObject: false },
  professional: {
    label: 'Professional portal',
    tenSecondly: 190,
    daily: 625_000,
    customObjects: false,
    leadsObject: true,
  },
  enterprise: {
    label: 'Enterprise portal',
    tenSecondly: 190,
    daily: 1_000_000,
    customObjects: true,
    leadsObject: true,
  },
  'no-custom-objects': {
    label: 'Professional portal (no custom objects)',
    tenSecondly: 190,
    daily: 625_000,
    customObjects: false,
    leadsObject: true,
  },
};

/** OAuth (public) apps: 110 requests per 10 seconds per installing account, whatever the subscription. */
export const OAUTH_TEN_SECONDLY = 110;
export const SEARCH_PER_SECOND = 5;
const WINDOW_MS = 10_000;

export interface LimitOptions {
  tenSecondly?: number;
  daily?: number;
  searchPerSecond?: number;
  /**
   * The burst window's length (HubSpot's is 10 seconds). Tests shorten it to run a saturated window quickly; the
   * answers' `X-HubSpot-RateLimit-Interval-Milliseconds` say it, as HubSpot's do.
   */
  windowMs?: number;
}

export class RateLimiter {
  /** Burst windows by app (HubSpot's 10-second limit is per app; the daily one the portal's, shared). */
  private readonly burst = new Map<string, number[]>();
  private search: number[] = [];
  private dailyDate = '';
  dailyUsed = 0;
  readonly tenSecondly: number;
  readonly daily: number;
  readonly searchPerSecond: number;
  readonly windowMs: number;

  constructor(
    profile: HubSpotProfile,
    private readonly timezone: string,
    opts: LimitOptions = {},
  ) {
    const p = PROFILES[profile];
    this.tenSecondly = opts.tenSecondly ?? p.tenSecondly;
    this.daily = opts.daily ?? p.daily;
    this.searchPerSecond = opts.searchPerSecond ?? SEARCH_PER_SECOND;
    this.windowMs = opts.windowMs ?? WINDOW_MS;
  }

  private rollDay(orgNow: Date): void {
    const d = dateInZone(orgNow, this.timezone);
    if (d !== this.dailyDate) {
      this.dailyDate = d;
      this.dailyUsed = 0;
    }
  }

  /** Counts one request; returns the 429 to answer, or the headers to add. */
  take(
    kind: TokenKind,
    isSearch: boolean,
    orgNow: Date,
    app: string = kind,
  ): { reply: Reply } | { headers: Record<string, string> } {
    // wall-clock: the burst windows measure the client's real pace
    const now = Date.now();
    this.rollDay(orgNow);
    if (kind === 'private_app' && this.dailyUsed >= this.daily) {
      return { reply: limitReply('DAILY', 'You have reached your daily limit.') };
    }
    const max = kind === 'oauth' ? Math.min(this.tenSecondly, OAUTH_TEN_SECONDLY) : this.tenSecondly;
    if (isSearch) {
      this.search = this.search.filter((t) => now - t < 1000);
      if (this.search.length >= this.searchPerSecond) {
        return { reply: limitReply('SECONDLY', 'You have reached your secondly limit.') };
      }
      this.search.push(now);
      this.dailyUsed++;
      return { headers: {} };
    }
    const window = (this.burst.get(app) ?? []).filter((t) => now - t < this.windowMs);
    this.burst.set(app, window);
    if (window.length >= max) {
      return {
        reply: limitReply(
          'TEN_SECONDLY_ROLLING',
          'You have reached your ten_secondly_rolling limit.',
          max,
          this.windowMs,
        ),
      };
    }
    window.push(now);
    this.dailyUsed++;
    const headers: Record<string, string> = {
      'X-HubSpot-RateLimit-Max': String(max),
      'X-HubSpot-RateLimit-Remaining': String(max - window.length),
      'X-HubSpot-RateLimit-Interval-Milliseconds': String(this.windowMs),
    };
    if (kind === 'private_app') {
      headers['X-HubSpot-RateLimit-Daily'] = String(this.daily);
      headers['X-HubSpot-RateLimit-Daily-Remaining'] = String(Math.max(0, this.daily - this.dailyUsed));
    }
    return { headers };
  }

  /** The daily usage endpoint's answer for private apps. */
  usage(orgNow: Date, resetsAt: Date): Record<string, unknown> {
    this.rollDay(orgNow);
    return {
      results: [
        {
          name: 'private-apps-api-calls-daily',
          usageLimit: this.daily,
          currentUsage: this.dailyUsed,
          collectedAt: orgNow.toISOString(),
          fetchStatus: 'SUCCESS',
          resetsAt: resetsAt.toISOString(),
        },
      ],
    };
  }
}

/** HubSpot's 429 body for a policy (`groupName` names the limit group, as HubSpot's does). */
export function limitReply(
  policyName: 'DAILY' | 'TEN_SECONDLY_ROLLING' | 'SECONDLY',
  message: string,
  max?: number,
  windowMs = WINDOW_MS,
): Reply {
  return {
    status: 429,
    body: {
      status: 'error',
      message,
      errorType: 'RATE_LIMIT',
      correlationId: randomUUID(),
      policyName,
      groupName: policyName === 'SECONDLY' ? 'search' : `privateapp:${max ?? ''}`,
    },
    ...(policyName === 'TEN_SECONDLY_ROLLING' && max !== undefined
      ? {
          headers: {
            'X-HubSpot-RateLimit-Max': String(max),
            'X-HubSpot-RateLimit-Remaining': '0',
            'X-HubSpot-RateLimit-Interval-Milliseconds': String(windowMs),
          },
        }
      : {}),
  };
}
