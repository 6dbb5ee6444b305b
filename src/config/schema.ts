/**
 * The RevOps configuration file (`quota-tracker.yaml`) as one zod schema: every key of the interface file, with
 * the defaults and constraints a wrong value would otherwise turn into a wrong number much later. Objects are
 * strict so that a misspelt key (`statusBand:`) is an error at its key path instead of a silently ignored
 * setting.
 *
 * Thresholds and rates are plain numbers here because YAML gives them as numbers; they are the shortest decimal
 * representation of what RevOps typed, so `new Dec(value)` in the metrics code recovers the exact decimal.
 */
import { z } from 'zod';
import { isPlainDate, isValidTimeZone } from '../util/date.ts';
import { addressBlockProblem } from '../util/ip.ts';

// ---------------------------------------------------------------------------------------------------------------
// Building blocks

const NUMERIC_STRING = /^-?\d+(\.\d+)?$/;

/**
 * A number that may also arrive as a numeric string, which is what `${PORT:-8787}` interpolation produces.
 * The default, if any, sits inside the pipe so that the JSON Schema shows it.
 */
function num<T extends z.ZodType>(schema: T) {
  return z.preprocess((v) => (typeof v === 'string' && NUMERIC_STRING.test(v.trim()) ? Number(v) : v), schema);
}

/** A boolean that may also arrive as the string `true` / `false` from interpolation. */
function bool(defaultValue: boolean) {
  return z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean().default(defaultValue));
}

/** A ratio such as 0.95 for 95%. */
const ratio = (min = 0) => z.number().min(min);

const DURATION_RE = /^(\d+)(s|m|h|d)$/;
const DURATION_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

/** A duration like `30s`, `15m`, `1h`, `30d`. */
export const durationSchema = z
  .string()
  .regex(DURATION_RE, { message: 'expected a duration like 30s, 15m, 1h or 30d' })
  .refine((s) => durationToSeconds(s) > 0, { message: 'expected a duration greater than zero' });

/** Seconds in a duration string that passed `durationSchema`. */
export function durationToSeconds(duration: string): number {
  const m = DURATION_RE.exec(duration);
  if (!m) return Number.NaN;
  return Number(m[1]) * DURATION_SECONDS[m[2] as keyof typeof DURATION_SECONDS];
}

/** A window counted in whole days (`30d`), as the activity and run-rate windows are. */
const dayWindowSchema = z.string().regex(/^[1-9]\d*d$/, { message: 'expected a window in days like 30d' });

/** Whole days in a `30d` window. */
export function windowDays(window: string): number {
  return Number(window.slice(0, -1));
}

const CRON_FIELD_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0, 59], // minute
  [0, 23], // hour
  [1, 31], // day of month
  [1, 12], // month
  [0, 7], // day of week (0 and 7 are both Sunday)
];

/** True for a standard 5-field cron expression: numbers, `*`, ranges, lists and steps, within each field's range. */
export function isValidCron(expr: string): boolean {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) return false;
  return fields.every((field, i) => {
    const [lo, hi] = CRON_FIELD_RANGES[i] as readonly [number, number];
    return field.split(',').every((part) => {
      const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
      if (!m) return false;
      if (m[4] !== undefined && Number(m[4]) === 0) return false;
      if (m[1] === '*') return true;
      const a = Number(m[2]);
      const b = m[3] === undefined ? a : Number(m[3]);
      return a >= lo && b <= hi && a <= b;
    });
  });
}

const scheduleSchema = z
  .union([
    z.strictObject({ every: durationSchema }),
    z.strictObject({
      cron: z.string().refine(isValidCron, { message: 'expected a 5-field cron expression like "*/15 * * * *"' }),
    }),
  ])
  .describe('how often the connection syncs: { every: 15m } or { cron: "*/15 * * * *" }');

const connectionIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/i, { message: 'expected an id of letters, digits, "-" and "_" like sf-prod' });

const httpUrlSchema = z.string().regex(/^https?:\/\/[^\s]+$/, { message: 'expected an http(s) URL' });

const nonEmpty = z.string().min(1);

export const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const;
export type WeekdayName = (typeof WEEKDAYS)[number];

// ---------------------------------------------------------------------------------------------------------------
// Calendar and pacing

export const RETAIL_PATTERNS = ['4-4-5', '4-5-4', '5-4-4'] as const;
export type RetailPattern = (typeof RETAIL_PATTERNS)[number];

export const calendarSchema = z
  .strictObject({
    type: z.enum(['calendar', ...RETAIL_PATTERNS]).default('calendar'),
    /** Month (1-12) in which a `calendar` fiscal year starts. */
    fiscalYearStartMonth: num(z.int().min(1).max(12).default(1)),
    /** Retail calendars only: the year ends on the last (or nearest) `weekday` of `month`. */
    yearEnd: z
      .strictObject({
        month: num(z.int().min(1).max(12)),
        weekday: z.enum(WEEKDAYS),
        rule: z.enum(['last', 'nearest']).default('last'),
      })
      .optional(),
    timezone: z
      .string()
      .refine(isValidTimeZone, { message: 'expected an IANA time zone like America/New_York' })
      .default('UTC'),
    baseCurrency: z
      .string()
      .regex(/^[A-Z]{3}$/, { message: 'expected a 3-letter ISO 4217 currency code like USD' })
      .default('USD'),
  })
  .superRefine((c, ctx) => {
    if (c.type !== 'calendar' && !c.yearEnd) {
      ctx.addIssue({
        code: 'custom',
        path: ['yearEnd'],
        message: `a ${c.type} calendar needs yearEnd: { month, weekday, rule: last|nearest }`,
      });
    }
    if (c.type === 'calendar' && c.yearEnd) {
      ctx.addIssue({ code: 'custom', path: ['yearEnd'], message: 'yearEnd applies only to 4-4-5, 4-5-4 and 5-4-4' });
    }
  });

const plainDateSchema = z.string().refine(isPlainDate, { message: 'expected a date as YYYY-MM-DD' });

export const pacingSchema = z.strictObject({
  basis: z.enum(['calendar', 'business', 'seasonal']).default('calendar'),
  /** Dates that are not business days (besides weekends), for the `business` basis and business-day counts. */
  holidays: z.array(plainDateSchema).default([]),
  seasonal: z.strictObject({ periods: num(z.int().min(1).max(20).default(4)) }).prefault({}),
});

// ---------------------------------------------------------------------------------------------------------------
// Quotas, org, FX, booking

const fileSourceSchema = z.strictObject({ source: z.literal('file'), path: nonEmpty });

export const quotasSchema = z.discriminatedUnion('source', [
  z.strictObject({
    source: z.literal('crm'),
    /**
     * Whose quota counts when several CRMs hold one for the same person and period: this connection's (default the
     * first connection listed).
     */
    preferConnection: nonEmpty.optional(),
  }),
  fileSourceSchema,
]);

export const fxSchema = z.discriminatedUnion('source', [
  z.strictObject({ source: z.literal('crm') }),
  fileSourceSchema,
]);

export const orgSchema = z.strictObject({ file: nonEmpty.optional() });

export const bookingSchema = z.strictObject({
  /** The CRM field whose value counts as the booking (Salesforce `Amount`, or a custom field such as `ACV__c`). */
  amountField: nonEmpty.default('Amount'),
  /** Stage names that count as won in addition to the CRM's own closed-won flag; empty means the CRM's flag alone. */
  wonStages: z.array(nonEmpty).default([]),
  /** Revenue splits: off (owner gets all), revenue (revenue splits only), all (overlay splits credit individuals). */
  splits: z.enum(['off', 'revenue', 'all']).default('off'),
});

const rampSchema = z
  // Plain numbers (no string coercion for ${...}) so that the JSON Schema keeps the default.
  .array(
    z
      .number()
      .gt(0, { message: 'expected a ramp share above 0' })
      .max(1, { message: 'expected a ramp share of at most 1' }),
  )
  .min(1)
  .describe('share of quota by month of tenure; after the last entry the rep carries full quota')
  .default([0.25, 0.5, 0.75, 1.0]);

export const activityTargetsSchema = z.strictObject({
  window: dayWindowSchema.default('30d'),
  call: num(z.number().min(0).default(120)),
  meeting: num(z.number().min(0).default(20)),
  email: num(z.number().min(0).default(200)),
  task: num(z.number().min(0).optional()),
  weights: z
    .strictObject({
      call: num(ratio().default(1)),
      meeting: num(ratio().default(2)),
      email: num(ratio().default(0.5)),
      task: num(ratio().default(0)),
    })
    .prefault({}),
  /** Each type's actual/target is capped at this before weighting. */
  cap: num(z.number().gt(0).default(1.5)),
});

export const commissionSchema = z
  .strictObject({
    baseRate: num(ratio().max(1).default(0.1)),
    // Plain numbers in the lists and nullable values (no string coercion) so that the JSON Schema keeps defaults.
    tiers: z
      .array(z.strictObject({ from: ratio(), multiplier: z.number().gt(0) }))
      .default([{ from: 1.0, multiplier: 1.6 }]),
    decelerator: z
      .strictObject({ below: num(ratio()), multiplier: num(z.number().gt(0)) })
      .nullable()
      .default(null),
    /** Maximum payout per period, in the base currency; null means uncapped. */
    cap: z.number().gt(0).nullable().default(null),
  })
  .superRefine((c, ctx) => {
    c.tiers.forEach((t, i) => {
      const prev = c.tiers[i - 1];
      if (prev && !(t.from > prev.from)) {
        ctx.addIssue({
          code: 'custom',
          path: ['tiers', i, 'from'],
          message: `expected tiers in ascending order of "from" (${t.from} is not above ${prev.from})`,
        });
      }
    });
  });

const BAND_ORDER = ['on_track', 'likely_to_hit', 'at_risk', 'likely_miss', 'significant_gap'] as const;

export const statusBandsSchema = z
  .strictObject({
    on_track: num(ratio().default(1.0)),
    likely_to_hit: num(ratio().default(0.95)),
    at_risk: num(ratio().default(0.9)),
    likely_miss: num(ratio().default(0.8)),
    significant_gap: num(ratio().default(0.7)),
  })
  .superRefine((b, ctx) => descending(b, BAND_ORDER, ctx))
  .describe('lower bounds of projected attainment per status band, descending; below the last is major_gap');

const COVERAGE_ORDER = ['strong', 'adequate', 'low'] as const;

export const coverageBandsSchema = z
  .strictObject({
    strong: num(ratio().default(3.0)),
    adequate: num(ratio().default(2.5)),
    low: num(ratio().default(1.5)),
  })
  .superRefine((b, ctx) => descending(b, COVERAGE_ORDER, ctx))
  .describe('lower bounds of pipeline coverage per band, descending; below the last is critical');

function descending<K extends string>(values: Record<K, number>, order: readonly K[], ctx: z.RefinementCtx): void {
  for (let i = 1; i < order.length; i++) {
    const hi = order[i - 1] as K;
    const lo = order[i] as K;
    if (!(values[lo] < values[hi])) {
      ctx.addIssue({
        code: 'custom',
        path: [lo],
        message: `expected ${lo} (${values[lo]}) below ${hi} (${values[hi]}): bands must be descending`,
      });
    }
  }
}

export const metricsSchema = z.strictObject({
  /** Trailing window of the current run rate. */
  runRateWindow: dayWindowSchema.default('30d'),
  /** Trailing window of win rate, deal size and sales cycle (default: 4 quarters = 12 months ending on D). */
  conversionWindowMonths: num(z.int().min(1).max(60).default(12)),
  /** Periods of history shown and used for trends. */
  historyPeriods: num(z.int().min(1).max(40).default(8)),
  /** Under this many points per period a trend is `flat`. */
  flatTrendPoints: num(z.number().min(0).default(2)),
});

/** What a report delivery sends: the org summary, each team's dashboard, the org leaderboard. */
export const DELIVERY_CONTENTS = ['org', 'teams', 'leaderboard'] as const;

/**
 * One scheduled report delivery (`reports.deliveries[]`): `when` is `month-end` (the quarter to date as of each
 * fiscal month's last day), `quarter-end` (each ended quarter as of its last day) or a 5-field cron in the org's
 * time zone (the current quarter as of that day); each goes to a folder as HTML and Markdown files and/or to a
 * webhook as Slack-compatible JSON linking to the HTML, at most once per period (or cron slot) and delivery.
 */
export const deliverySchema = z
  .strictObject({
    /** Names the delivery in its files, the database and the logs. */
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, {
      message: 'expected lowercase letters, digits and dashes, like "month-end-org"',
    }),
    when: z.string().refine((v) => v === 'month-end' || v === 'quarter-end' || isValidCron(v), {
      message: 'expected month-end, quarter-end or a 5-field cron expression like "0 8 * * 1"',
    }),
    what: z
      .array(z.enum(DELIVERY_CONTENTS))
      .min(1)
      .default([...DELIVERY_CONTENTS]),
    /** Folder the files are written under (`<folder>/<id>/<slot>/`), created when missing. */
    folder: nonEmpty.optional(),
    /** A Slack-compatible incoming-webhook URL (a secret: write it as `${ENV_NAME}`). */
    webhook: httpUrlSchema.optional(),
  })
  .refine((d) => d.folder !== undefined || d.webhook !== undefined, {
    message: 'a delivery needs a folder, a webhook or both',
  });

export const reportsSchema = z.strictObject({
  deliveries: z.array(deliverySchema).default([]),
});

export const forecastSchema = z.strictObject({
  trials: num(z.int().min(100).max(1_000_000).default(10_000)),
  /** Seed of the Monte Carlo run, so that the same inputs give the same forecast. */
  seed: num(z.int().min(0).default(1)),
  /** How deal probabilities are learned from stage history (docs/metrics.md, "Forecast confidence"). */
  calibration: z
    .strictObject({
      /** Won (deal, period) pairs the history needs before the forecast is calibrated. */
      minWins: num(z.int().min(1).default(50)),
      /** Lost or slipped (deal, period) pairs it needs too. */
      minLosses: num(z.int().min(1).default(150)),
      /** Snapshots' worth of pull of a (stage, weeks left) cell toward its stage, and of a stage toward the org. */
      priorWeight: num(z.number().min(0).max(100_000).default(20)),
    })
    .prefault({}),
  /**
   * The service's own backtest (`report forecast --backtest`, stored), so every forecast prints how well its P10
   * held without anyone running it by hand: on this cron in the org's time zone, and within a day whenever the
   * current settings have none stored (a new deployment, a changed config).
   */
  backtest: z
    .strictObject({
      enabled: bool(true),
      cron: z
        .string()
        .refine(isValidCron, { message: 'expected a 5-field cron expression like "30 2 * * 1"' })
        .default('30 2 * * 1'),
    })
    .prefault({}),
});

// ---------------------------------------------------------------------------------------------------------------
// Alerts: one entry per rule of the metric definitions

const severity = z.enum(['info', 'warning', 'critical']);

const rule = <T extends z.ZodRawShape>(shape: T, defaultSeverity: z.infer<typeof severity>) =>
  z.strictObject({ enabled: bool(true), severity: severity.default(defaultSeverity), ...shape });

export const alertRulesSchema = z.strictObject({
  at_risk_rep: rule({ below: num(ratio().default(0.7)) }, 'warning').prefault({}),
  pace_deterioration: rule(
    { dropPoints: num(z.number().gt(0).default(10)), lookbackDays: num(z.int().min(1).default(7)) },
    'warning',
  ).prefault({}),
  activity_drop: rule(
    {
      scoreBelow: num(z.number().min(0).default(60)),
      recentDays: num(z.int().min(1).default(14)),
      priorWeeks: num(z.int().min(1).default(4)),
      dropShare: num(ratio().max(1).default(0.3)),
    },
    'warning',
  ).prefault({}),
  coverage_gap: rule(
    {
      critical: num(ratio().default(1.5)),
      warning: num(ratio().default(2.5)),
      minDaysRemaining: num(z.int().min(0).default(14)),
    },
    'warning',
  ).prefault({}),
  conversion_decline: rule(
    { windowDays: num(z.int().min(1).default(90)), dropPoints: num(z.number().gt(0).default(10)) },
    'warning',
  ).prefault({}),
  velocity_slowdown: rule(
    { windowDays: num(z.int().min(1).default(90)), longerShare: num(z.number().gt(0).default(0.15)) },
    'info',
  ).prefault({}),
  accelerator_opportunity: rule({ within: num(ratio().default(0.1)) }, 'info').prefault({}),
});

export const alertsSchema = z.strictObject({
  enabled: bool(true),
  rules: alertRulesSchema.prefault({}),
  /** An open alert resolves only when its value is back by this margin (ratio points), so it does not flap. */
  hysteresis: num(ratio().default(0.02)),
  maxTasksPerManagerPerDay: num(z.int().min(0).default(5)),
});

// ---------------------------------------------------------------------------------------------------------------
// Connections

export const syncOptionsSchema = z.strictObject({
  /** Each incremental read starts this far before the saved cursor, for records committed late. */
  lookbackMinutes: num(z.int().min(0).max(1440).default(10)),
  /** Share of the CRM's daily API allocation this tool may use. */
  apiBudgetShare: num(z.number().gt(0).max(1).default(0.5)),
  /** How often formula fields (which change without a modification stamp) are re-read in full. */
  formulaRefreshEvery: durationSchema.default('24h'),
  batchSize: num(z.int().min(1).max(10_000).default(2000)),
  /**
   * Bounds a normalized record must keep to enter the warehouse; one outside them is quarantined with the reason
   * (src/sync/sanity.ts), so an Amount of -1e15 or a 10 MB name never reaches the sums.
   */
  sanity: z
    .strictObject({
      /** Largest absolute amount a deal, line item, split, history row or quota may carry. */
      maxAbsAmount: num(z.number().positive().max(Number.MAX_SAFE_INTEGER).default(1e12)),
      /** Longest text (in characters) any normalized column may hold. */
      maxTextLength: num(z.int().min(1).max(10_000_000).default(32_768)),
    })
    .prefault({}),
});

/** Custom CRM field names that hold what the tracker needs; unset means the CRM's standard field or none. */
export const fieldMappingSchema = z.strictObject({
  amount: nonEmpty.optional(),
  segment: nonEmpty.optional(),
  productLine: nonEmpty.optional(),
  dealType: nonEmpty.optional(),
  forecastCategory: nonEmpty.optional(),
  startDate: nonEmpty.optional(),
  territory: nonEmpty.optional(),
  territoryIndex: nonEmpty.optional(),
  quotaCarrying: nonEmpty.optional(),
  team: nonEmpty.optional(),
  region: nonEmpty.optional(),
  manager: nonEmpty.optional(),
});

/** Field names of the write-back target, overriding the defaults of the interface file. */
export const writebackFieldsSchema = z.strictObject({
  attainment: nonEmpty.optional(),
  pace: nonEmpty.optional(),
  projectedAttainment: nonEmpty.optional(),
  status: nonEmpty.optional(),
  coverage: nonEmpty.optional(),
  rank: nonEmpty.optional(),
  asOf: nonEmpty.optional(),
  alertKey: nonEmpty.optional(),
});

export const connectionWritebackSchema = z.strictObject({
  enabled: bool(true),
  target: z.enum(['user_fields', 'custom_object']).default('user_fields'),
  /** The custom object's API name when target is custom_object (Salesforce default `Quota_Scorecard__c`). */
  object: nonEmpty.optional(),
  fields: writebackFieldsSchema.prefault({}),
});

const common = {
  id: connectionIdSchema,
  enabled: bool(true),
  schedule: scheduleSchema.default({ every: '15m' }),
  sync: syncOptionsSchema.prefault({}),
  fields: fieldMappingSchema.prefault({}),
  writeback: connectionWritebackSchema.prefault({}),
};

export const salesforceAuthSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('refresh_token'),
    clientId: nonEmpty,
    clientSecret: nonEmpty,
    refreshToken: nonEmpty,
  }),
  z.strictObject({ kind: z.literal('client_credentials'), clientId: nonEmpty, clientSecret: nonEmpty }),
  z.strictObject({ kind: z.literal('jwt'), clientId: nonEmpty, username: nonEmpty, privateKeyPath: nonEmpty }),
  z.strictObject({
    kind: z.literal('password'),
    clientId: nonEmpty,
    clientSecret: nonEmpty,
    username: nonEmpty,
    password: nonEmpty,
  }),
]);

const API_VERSION_RE = /^\d{2,3}\.0$/;

export const salesforceConnectionSchema = z.strictObject({
  ...common,
  type: z.literal('salesforce'),
  loginUrl: httpUrlSchema.default('https://login.salesforce.com'),
  // YAML reads an unquoted 62.0 as the number 62; accept it and write it back as Salesforce spells it.
  apiVersion: z.preprocess(
    (v) => (typeof v === 'number' && Number.isInteger(v) ? `${v}.0` : v),
    z.string().regex(API_VERSION_RE, { message: 'expected a Salesforce API version like "62.0"' }).default('62.0'),
  ),
  auth: salesforceAuthSchema,
  /**
   * Initial and `--full` reads of an object with more rows than this (by the Record Count API) go through a Bulk API
   * 2.0 query job instead of REST pages; incremental reads always use REST.
   */
  bulkThreshold: num(z.int().min(0).default(100_000)),
});

/**
 * What a HubSpot connection maps: a deal's segment and product line (custom deal properties). Its people come from
 * the owners and the org file, its amounts are HubSpot's own: a key mapped here that nothing would read is refused.
 */
export const hubspotFieldMappingSchema = z.strictObject({
  segment: nonEmpty.optional(),
  productLine: nonEmpty.optional(),
});

/**
 * A HubSpot connection's write-back: scores go to the "Quota scorecard" custom object (`custom_object`, the
 * default) or nowhere (`off`: a portal that cannot hold custom objects; scores still reach the reports).
 */
export const hubspotWritebackSchema = z.strictObject({
  enabled: bool(true),
  target: z.enum(['custom_object', 'off']).default('custom_object'),
  // The task key property is always `quota_alert_key` on HubSpot (the read side skips tasks carrying it).
  fields: writebackFieldsSchema.omit({ alertKey: true }).prefault({}),
});

export const hubspotConnectionSchema = z.strictObject({
  ...common,
  fields: hubspotFieldMappingSchema.prefault({}),
  writeback: hubspotWritebackSchema.prefault({}),
  type: z.literal('hubspot'),
  /** A private-app access token. */
  accessToken: nonEmpty,
  basePath: httpUrlSchema.default('https://api.hubapi.com'),
  /** The app's client secret, to verify webhook signatures; no webhooks without it. */
  webhookSecret: nonEmpty.optional(),
});

export const connectionSchema = z.discriminatedUnion('type', [salesforceConnectionSchema, hubspotConnectionSchema]);

// ---------------------------------------------------------------------------------------------------------------
// The whole file

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const configSchema = z
  .strictObject({
    database: z
      .strictObject({
        /** PostgreSQL URL; not given means an embedded server. */
        url: nonEmpty.optional(),
        /** Data folder of the embedded server (default ./.quota-tracker/pg). */
        dataDir: nonEmpty.optional(),
      })
      .prefault({}),
    queue: z
      .strictObject({
        /** Redis URL; not given means BullMQ's PostgreSQL backend on the warehouse database. */
        redisUrl: nonEmpty.optional(),
        prefix: nonEmpty.default('quota-tracker'),
        /**
         * Rep shards a full recompute run by the service is split into, each a job any worker takes (one at a time
         * per process), the teams, regions and org merged from them once all are in. 1: one job, in one worker.
         */
        recomputeShards: num(z.int().min(1).max(256).default(1)),
      })
      .prefault({}),
    calendar: calendarSchema.prefault({}),
    pacing: pacingSchema.prefault({}),
    quotas: quotasSchema.default({ source: 'crm' }),
    fx: fxSchema.default({ source: 'crm' }),
    org: orgSchema.prefault({}),
    booking: bookingSchema.prefault({}),
    ramp: rampSchema,
    activityTargets: activityTargetsSchema.prefault({}),
    commission: commissionSchema.prefault({}),
    statusBands: statusBandsSchema.prefault({}),
    coverageBands: coverageBandsSchema.prefault({}),
    metrics: metricsSchema.prefault({}),
    forecast: forecastSchema.prefault({}),
    reports: reportsSchema.prefault({}),
    alerts: alertsSchema.prefault({}),
    writeback: z.strictObject({ enabled: bool(true), mode: z.enum(['live', 'dry-run']).default('live') }).prefault({}),
    connections: z.array(connectionSchema).default([]),
    web: z
      .strictObject({
        port: num(z.int().min(0).max(65_535).default(8787)),
        host: nonEmpty.default('127.0.0.1'),
        /** The URL users reach the dashboard at, for links in CRM tasks. */
        publicUrl: httpUrlSchema.optional(),
        /**
         * Reverse proxies (IP addresses or CIDR blocks) whose `X-Forwarded-For` names the client, for the sign-in
         * rate limit. Empty: the connection's peer is the client.
         */
        trustProxy: z
          .array(
            z.string().superRefine((v, ctx) => {
              const problem = addressBlockProblem(v);
              if (problem) ctx.addIssue({ code: 'custom', message: problem });
            }),
          )
          .default([]),
      })
      .prefault({}),
    logLevel: z.enum(LOG_LEVELS).default('info'),
  })
  .superRefine((c, ctx) => {
    const seen = new Map<string, number>();
    c.connections.forEach((conn, i) => {
      const first = seen.get(conn.id);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['connections', i, 'id'],
          message: `connection id "${conn.id}" is already used by connections[${first}]`,
        });
      } else {
        seen.set(conn.id, i);
      }
    });
    if (c.quotas.source === 'crm' && c.quotas.preferConnection !== undefined && !seen.has(c.quotas.preferConnection))
      ctx.addIssue({
        code: 'custom',
        path: ['quotas', 'preferConnection'],
        message: `there is no connection "${c.quotas.preferConnection}" (connections: ${[...seen.keys()].join(', ') || 'none'})`,
      });
    const deliveries = new Map<string, number>();
    c.reports.deliveries.forEach((d, i) => {
      const first = deliveries.get(d.id);
      if (first !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['reports', 'deliveries', i, 'id'],
          message: `delivery id "${d.id}" is already used by reports.deliveries[${first}]`,
        });
      else deliveries.set(d.id, i);
      // The message links to the HTML, which the web server serves at web.publicUrl.
      if (d.webhook !== undefined && c.web.publicUrl === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['reports', 'deliveries', i, 'webhook'],
          message: 'a webhook delivery links to its HTML on the dashboard: set web.publicUrl',
        });
    });
  });

/** The validated configuration, defaults filled in. Other modules read settings from this type. */
export type Config = z.infer<typeof configSchema>;
/** What a user may write in the file (everything with a default is optional). */
export type ConfigInput = z.input<typeof configSchema>;
export type CalendarConfig = Config['calendar'];
export type PacingConfig = Config['pacing'];
export type ConnectionConfig = Config['connections'][number];
export type SalesforceConnectionConfig = Extract<ConnectionConfig, { type: 'salesforce' }>;
export type HubspotConnectionConfig = Extract<ConnectionConfig, { type: 'hubspot' }>;
export type AlertRuleName = keyof Config['alerts']['rules'];
export type DeliveryConfig = Config['reports']['deliveries'][number];
export type StatusBand = keyof Config['statusBands'] | 'major_gap';
