/**
 * The HubSpot connector: one per configured connection, holding its client and what it learned about the portal
 * (time zone, company currency, deal pipelines). `read()` yields the pages of one stream.
 */
import { now } from '../../clock.ts';
import { AppError, isAppError } from '../../errors.ts';
import type { Logger } from '../../util/log.ts';
import { memoryRateBudget, type RateBudget } from '../rate-budget.ts';
import type { RetryOptions } from '../retry-policy.ts';
import type {
  ApiUsage,
  Connector,
  NormalizedRecord,
  OrgIdentity,
  Page,
  QuarantinedRecord,
  ReadContext,
  StreamCursor,
  StreamSpec,
  TaskSink,
  WritePort,
  WritePortContext,
} from '../types.ts';
import { engagementPlan, isEngagementType } from './activities.ts';
import { HubSpotClient } from './client.ts';
import { type HubSpotCursor, parseCursor, START } from './cursor.ts';
import { contactLeadPlan, leadPlan } from './leads.ts';
import { HubSpotLimits } from './limits.ts';
import { lineItemPlan } from './line-items.ts';
import {
  type HsObject,
  type HsOwner,
  type HsPipeline,
  normalizeDeal,
  normalizeOwner,
  normalizeStageHistory,
  type PortalFacts,
  stageMap,
  Unnormalizable,
} from './normalize.ts';
import { HUBSPOT_PATHS } from './paths.ts';
import { readExchangeRates, readGoalTargets } from './planning-read.ts';
import { type ObjectStreamPlan, type ReadOptions, readObjectStream } from './read.ts';
import { planRows } from './record-rows.ts';
import {
  DEAL_HISTORY_PROPERTIES,
  DEAL_PROPERTIES,
  HUBSPOT_OPTIONAL_STREAMS,
  HUBSPOT_STREAMS,
  hubspotStreams,
} from './streams.ts';
import { HubSpotTaskWriter } from './tasks.ts';
import { hubspotWritePort } from './write.ts';

export interface HubSpotConnectorConfig {
  id: string;
  accessToken: string;
  basePath: string;
  /** `apiBudgetShare`: the share of the portal's daily allocation this tool may use (default 0.5). */
  sync: { lookbackMinutes: number; apiBudgetShare?: number };
  /**
   * `fields.segment`: the deal property holding the segment (a portal's custom property, e.g. `segment`); without
   * it deals have none. https://developers.hubspot.com/docs/api/crm/properties
   */
  fields?: { segment?: string; productLine?: string };
}

export interface HubSpotConnectorOptions {
  config: HubSpotConnectorConfig;
  log: Logger;
  defaultTimeZone?: string;
  defaultCurrency?: string;
  retry?: Partial<RetryOptions>;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  signal?: AbortSignal;
  requestTimeoutMs?: number;
  /** Where the portal's rate budget lives (the host's PostgreSQL); default: shared within this process only. */
  budget?: RateBudget;
  /** The search limit to keep to, when a sandbox sets another than HubSpot's 5 a second. */
  searchPerSecond?: number;
  /** The exchange rates come from a file (`fx: { source: file }`): the portal's are not read. */
  fxFromFile?: boolean;
  /** The clock the daily share's reset is read on (default the program's, clock.ts); a sandbox's in tests. */
  now?: () => Date;
}

const OWNERS_PAGE = 500;

/** Connectors without a host budget (tests, the bench) share this one within the process. */
const processBudget = memoryRateBudget();

interface AccountDetails {
  portalId?: number;
  timeZone?: string;
  companyCurrency?: string;
}

function quarantine(id: string, e: unknown, payload: unknown): QuarantinedRecord {
  if (e instanceof Unnormalizable) return { externalId: id, reasonCode: e.reasonCode, reason: e.message, payload };
  throw e;
}

/** HubSpot does not know the object type on this portal (no subscription for it): 404, or 400 "Unable to infer". */
function noSuchObject(e: unknown): e is AppError {
  if (!isAppError(e) || e.code !== 'CRM_REQUEST_INVALID') return false;
  const status = e.details?.status;
  return status === 404 || (status === 400 && /unable to infer object type/i.test(e.message));
}

/** HubSpot refused the object itself: a missing scope or subscription (403), or an object type the portal lacks. */
function refusedObject(e: unknown): e is AppError {
  if (!isAppError(e)) return false;
  if (e.code === 'CRM_PERMISSION') return true;
  const status = e.details?.status;
  return (
    e.code === 'CRM_REQUEST_INVALID' &&
    (status === 404 || (status === 400 && /unable to infer object type/i.test(e.message)))
  );
}

export class HubSpotConnector implements Connector {
  readonly kind = 'hubspot' as const;
  readonly client: HubSpotClient;
  private readonly opts: HubSpotConnectorOptions;
  private facts: Promise<PortalFacts> | undefined;
  private account: Promise<AccountDetails> | undefined;
  private leadStages: Promise<ReadonlyMap<string, string>> | undefined;

  constructor(opts: HubSpotConnectorOptions) {
    this.opts = opts;
    this.client = new HubSpotClient({
      accessToken: opts.config.accessToken,
      basePath: opts.config.basePath,
      log: opts.log,
      ...(opts.retry ? { retry: opts.retry } : {}),
      ...(opts.sleep ? { sleep: opts.sleep } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.requestTimeoutMs !== undefined ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
      limits: new HubSpotLimits({
        budget: opts.budget ?? processBudget,
        accessToken: opts.config.accessToken,
        basePath: opts.config.basePath,
        share: opts.config.sync.apiBudgetShare ?? 0.5,
        ...(opts.searchPerSecond !== undefined ? { searchPerSecond: opts.searchPerSecond } : {}),
        ...(opts.now ? { now: opts.now } : {}),
        // The day's allocation is the portal's: counted under its id, whichever token calls.
        portal: async () => {
          const id = (await this.accountDetails()).portalId;
          return id === undefined ? undefined : String(id);
        },
        log: opts.log,
        ...(opts.signal ? { signal: opts.signal } : {}),
      }),
    });
  }

  streams(): readonly StreamSpec[] {
    return hubspotStreams(this.opts.config.fields);
  }

  apiCalls(): number {
    return this.client.apiCalls();
  }

  /** Scores to the "Quota scorecard" custom object, upserted on `qt_key` (write.ts). */
  writePort(ctx: WritePortContext): WritePort {
    return hubspotWritePort(this.client, ctx, this.opts.config.id);
  }

  /** Alert tasks as HubSpot tasks keyed on `quota_alert_key` (tasks.ts). */
  taskSink(ctx: WritePortContext): TaskSink {
    return new HubSpotTaskWriter(this.client, ctx.log);
  }

  /** The portal's day as the shared budget keeps it (HubSpot's usage report, plus every worker's calls since). */
  apiUsage(): Promise<ApiUsage | null> {
    return this.client.limits?.usage() ?? Promise.resolve(null);
  }

  private accountDetails(): Promise<AccountDetails> {
    this.account ??= this.client.get<AccountDetails>(HUBSPOT_PATHS.accountDetails);
    this.account.catch(() => {
      this.account = undefined;
    });
    return this.account;
  }

  async identify(): Promise<OrgIdentity> {
    const d = await this.accountDetails();
    if (d.portalId === undefined)
      throw new AppError('CRM_AUTH_FAILED', 'HubSpot did not say which portal this token reaches');
    // The day's usage is the connector's to know, as its portal is: asked here once, it stops the first stream call
    // past the share (a stream's status), and no stream's calls pay for it.
    await this.client.checkUsage();
    return { orgId: String(d.portalId), instanceUrl: this.opts.config.basePath };
  }

  /** The portal's time zone (one call, shared with `portalFacts`): all that activities and leads need of it. */
  private async timeZone(): Promise<string> {
    return (await this.accountDetails()).timeZone ?? this.opts.defaultTimeZone ?? 'UTC';
  }

  /** Time zone, company currency and the deal stages' meanings (three calls, once per connector). */
  portalFacts(): Promise<PortalFacts> {
    this.facts ??= (async () => {
      const d = await this.accountDetails();
      const p = await this.client.get<{ results: HsPipeline[] }>(HUBSPOT_PATHS.pipelines('deals'));
      return {
        timeZone: d.timeZone ?? this.opts.defaultTimeZone ?? 'UTC',
        companyCurrency: d.companyCurrency ?? this.opts.defaultCurrency ?? 'USD',
        stages: stageMap(p.results),
      };
    })();
    this.facts.catch(() => {
      this.facts = undefined;
    });
    return this.facts;
  }

  read(stream: string, from: StreamCursor | null, ctx: ReadContext): AsyncGenerator<Page> {
    const pages = this.readStream(stream, from, ctx);
    return HUBSPOT_OPTIONAL_STREAMS.has(stream) ? this.unlessRefused(stream, from, pages, ctx.log) : pages;
  }

  /**
   * An optional stream whose object HubSpot refuses before anything was read (403: the token lacks the scope or the
   * subscription the object; 400/404: the portal has no such object type) reads nothing: its cursor stays, its rows
   * stay (nothing is swept), and the run succeeds with one line saying why. A refusal after the first page is a
   * failure like any other.
   */
  private async *unlessRefused(
    stream: string,
    from: StreamCursor | null,
    pages: AsyncGenerator<Page>,
    log: Logger,
  ): AsyncGenerator<Page> {
    const before = this.client.apiCalls();
    let first = true;
    try {
      for await (const p of pages) {
        first = false;
        yield p;
      }
    } catch (e) {
      if (!first || !refusedObject(e)) throw e;
      const scopes = Array.isArray(e.details?.missingScopes) ? (e.details.missingScopes as string[]) : [];
      const why = `${e.details?.status ?? ''} ${String(e.details?.crmCode ?? e.code)}${scopes.length ? `: the token lacks ${scopes.join(', ')}` : ''}`;
      const reason = `hubspot: the portal or token has no access to ${stream} (${why}); the stream is skipped this run, nothing read`;
      log.warn({ stream, reason: e.message }, reason);
      yield {
        records: [],
        deletedIds: [],
        quarantined: [],
        cursor: from,
        apiCalls: this.client.apiCalls() - before,
        skipped: { code: e.code, reason },
      };
    }
  }

  private readStream(stream: string, from: StreamCursor | null, ctx: ReadContext): AsyncGenerator<Page> {
    const nowFn = ctx.now ?? now;
    const readOpts = {
      client: this.client,
      lookbackMs: this.opts.config.sync.lookbackMinutes * 60_000,
      now: nowFn,
      log: ctx.log,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      ...(ctx.stored ? { stored: ctx.stored } : {}),
    };
    const start = ctx.full ? START : parseCursor(from, ctx.log);
    // A first read of a stream never synced owes no deletes; a --full re-read of one synced before does.
    const fresh = ctx.full ? !ctx.full.hadCursor : from === null;
    switch (stream) {
      case 'owners':
        return this.readOwners();
      case 'deals':
        return readObjectStream(readOpts, this.dealPlan(), start, fresh) as AsyncGenerator<Page>;
      case 'deal_stage_history':
        return readObjectStream(readOpts, this.historyPlan(), start, fresh) as AsyncGenerator<Page>;
      case 'line_items':
        return readObjectStream(readOpts, lineItemPlan(), start, fresh) as AsyncGenerator<Page>;
      case 'leads':
        return this.readLeads(readOpts, start, fresh, ctx.full !== undefined, ctx.log);
      case 'goal_targets':
        return readGoalTargets(
          this.client,
          () => this.portalFacts(),
          () => this.fetchOwners(),
        ) as AsyncGenerator<Page>;
      case 'exchange_rates':
        if (this.opts.fxFromFile) return this.fxFromFile(from, ctx.log);
        return readExchangeRates(
          this.client,
          () => this.portalFacts(),
          this.opts.defaultCurrency,
        ) as AsyncGenerator<Page>;
      default:
        if (isEngagementType(stream)) {
          const plan = engagementPlan(stream, () => this.timeZone());
          return readObjectStream(readOpts, plan, start, fresh) as AsyncGenerator<Page>;
        }
        throw new AppError(
          'USAGE',
          `unknown HubSpot stream "${stream}"; known: ${HUBSPOT_STREAMS.map((s) => s.name).join(', ')}`,
          { where: '--stream' },
        );
    }
  }

  /**
   * Leads from the leads object; on a portal without it (HubSpot does not know the object type: a 400 "Unable to
   * infer object type" or a 404, before anything was read) from contacts' lifecycle stages (leads.ts), and from then
   * on straight from contacts (the cursor says so). A 403 (the token lacks the leads scope) is not a missing object:
   * the optional stream's refusal handles it.
   */
  private async *readLeads(
    readOpts: ReadOptions,
    start: HubSpotCursor,
    fresh: boolean,
    full: boolean,
    log: Logger,
  ): AsyncGenerator<Page> {
    const lifecycle = (from: HubSpotCursor, isFresh: boolean) =>
      readObjectStream(
        readOpts,
        contactLeadPlan(() => this.timeZone()),
        from,
        isFresh,
      ) as AsyncGenerator<Page>;
    if (start.object === 'contacts') {
      yield* lifecycle(start, fresh);
      return;
    }
    const leads = readObjectStream(
      readOpts,
      leadPlan(async () => ({ timeZone: await this.timeZone(), stageLabels: await this.leadStageLabels() })),
      start,
      fresh,
    ) as AsyncGenerator<Page>;
    let first = true;
    try {
      for await (const p of leads) {
        first = false;
        yield p;
      }
    } catch (e) {
      if (!first || !noSuchObject(e)) throw e;
      // A stream that holds rows of the leads object (the portal lost it: a plan downgrade) would keep them beside
      // the contacts read now, and count leads twice: only a full read, which removes what it no longer sees, may
      // switch it over.
      if (!fresh && !full)
        throw new AppError(
          'CRM_OBJECT_GONE',
          "the portal no longer has the leads object, and the leads stream holds leads read from it; run `sync --stream leads --full` to read leads from contacts' lifecycle stages instead (that full read removes the old rows)",
          { where: 'leads' },
        );
      log.info(
        { stream: 'leads', reason: e.message },
        'hubspot: the portal has no leads object; leads come from contacts’ lifecycle stages (hs_lifecyclestage_*_date)',
      );
      // A first read owes no deletes; a full read of a stream read before does (the runner sweeps what it did not see).
      yield* lifecycle(START, fresh);
    }
  }

  /** `fx: { source: file }`: the rates are the file's; the portal's are not read (nor checked against baseCurrency). */
  private async *fxFromFile(from: StreamCursor | null, log: Logger): AsyncGenerator<Page> {
    log.info({ stream: 'exchange_rates' }, 'hubspot: exchange rates come from the FX file (fx.source: file); not read');
    yield { records: [], deletedIds: [], quarantined: [], cursor: from, apiCalls: 0 };
  }

  /** Lead stage labels by id, from the leads pipelines (one call, once per connector). */
  private leadStageLabels(): Promise<ReadonlyMap<string, string>> {
    this.leadStages ??= (async () => {
      const p = await this.client.get<{ results: HsPipeline[] }>(HUBSPOT_PATHS.pipelines('leads'));
      return new Map(p.results.flatMap((x) => x.stages.map((s) => [s.id, s.label] as const)));
    })();
    this.leadStages.catch(() => {
      this.leadStages = undefined;
    });
    return this.leadStages;
  }

  /** Owners, active and archived (a deactivated user's owner is archived), as one page with the sweep. */
  private async *readOwners(): AsyncGenerator<Page<'reps'>> {
    const before = this.client.apiCalls();
    const owners = await this.fetchOwners();
    // An owner is listed once, archived or not; should HubSpot ever list one both ways, the active one wins.
    const byId = new Map<string, HsOwner>();
    for (const o of owners) if (!byId.has(o.id)) byId.set(o.id, o);
    const records: NormalizedRecord<'reps'>[] = [...byId.values()].map((o) => ({
      externalId: o.id,
      sourceModifiedAt: o.updatedAt ? new Date(o.updatedAt).toISOString() : null,
      isDeleted: false,
      row: normalizeOwner(o),
    }));
    yield {
      records,
      deletedIds: [],
      quarantined: [],
      sweepSeenIds: [...byId.keys()],
      cursor: null,
      apiCalls: this.client.apiCalls() - before,
    };
  }

  /** Every owner, active then archived (500 a page). */
  private async fetchOwners(): Promise<HsOwner[]> {
    const page = (archived: string) =>
      this.client.getAll<HsOwner>(HUBSPOT_PATHS.owners, { limit: String(OWNERS_PAGE), archived });
    return [...(await page('false')), ...(await page('true'))];
  }

  private dealPlan(): ObjectStreamPlan<'deals'> {
    const mapped = this.opts.config.fields ?? {};
    const extra = [mapped.segment, mapped.productLine].filter((x): x is string => x !== undefined && x !== '');
    return {
      objectType: 'deals',
      stampProperty: 'hs_lastmodifieddate',
      properties: [...DEAL_PROPERTIES, ...extra.filter((x) => !(DEAL_PROPERTIES as readonly string[]).includes(x))],
      deletes: true,
      toRows: async (objects: readonly HsObject[]) => {
        const facts = await this.portalFacts();
        return planRows<'deals'>(objects, 'hs_lastmodifieddate', (o) => normalizeDeal(o, facts, mapped));
      },
    };
  }

  private historyPlan(): ObjectStreamPlan<'deal_stage_history'> {
    return {
      objectType: 'deals',
      stampProperty: 'hs_lastmodifieddate',
      properties: ['pipeline', 'dealstage', 'hs_lastmodifieddate'],
      history: DEAL_HISTORY_PROPERTIES,
      deletes: false,
      toRows: async (objects: readonly HsObject[]) => {
        const facts = await this.portalFacts();
        const records: NormalizedRecord<'deal_stage_history'>[] = [];
        const quarantined: QuarantinedRecord[] = [];
        for (const o of objects) {
          try {
            for (const h of normalizeStageHistory(o, facts)) {
              records.push({ externalId: h.externalId, sourceModifiedAt: h.changedAt, isDeleted: false, row: h.row });
            }
          } catch (e) {
            quarantined.push(quarantine(o.id, e, o));
          }
        }
        return { records, quarantined };
      },
    };
  }
}
