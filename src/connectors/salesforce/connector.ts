/**
 * The Salesforce connector: one per configured connection, holding its session, its REST client and what it
 * learned about the org. `read()` yields the pages of one stream (see read.ts).
 */
import { now } from '../../clock.ts';
import { AppError, isAppError } from '../../errors.ts';
import type { Logger } from '../../util/log.ts';
import type { RetryOptions } from '../retry-policy.ts';
import type {
  ApiUsage,
  Connector,
  CredentialStore,
  OrgIdentity,
  Page,
  ReadContext,
  RefreshLock,
  StreamCursor,
  TaskSink,
  WritePort,
  WritePortContext,
} from '../types.ts';
import { SalesforceAuth, type SalesforceAuthConfig } from './auth.ts';
import { SalesforceClient, type SessionProvider } from './client.ts';
import { fullReadCursor, parseCursor } from './cursor.ts';
import { type OrgFacts, readSalesforceStream } from './read.ts';
import { type SalesforceFieldMapping, type SalesforceStream, salesforceStreams } from './streams.ts';
import { SalesforceTaskWriter } from './tasks.ts';
import { salesforceWritePort } from './write.ts';

/** The parts of a salesforce connection's config the connector uses (`SalesforceConnectionConfig` fits). */
export interface SalesforceConnectorConfig {
  id: string;
  loginUrl: string;
  apiVersion: string;
  auth: SalesforceAuthConfig;
  sync: { lookbackMinutes: number; apiBudgetShare: number; formulaRefreshEvery: string; batchSize: number };
  fields?: SalesforceFieldMapping;
  /** Row count above which initial and full reads use a Bulk API 2.0 query job (see read.ts). */
  bulkThreshold?: number;
}

export interface SalesforceConnectorOptions {
  config: SalesforceConnectorConfig;
  log: Logger;
  /** Where rotated refresh tokens and the shared session live (encrypted). */
  store?: CredentialStore;
  /** Serializes token refreshes across workers. */
  lock?: RefreshLock;
  /** Time zone to assume when the org does not say (the configured calendar's). */
  defaultTimeZone?: string;
  /** Corporate currency to assume when the org names none (the configured base currency). */
  defaultCurrency?: string;
  /** Overrides for tests. */
  session?: SessionProvider;
  retry?: Partial<RetryOptions>;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  signal?: AbortSignal;
  /** Longest wait for one complete answer (see SalesforceClientOptions). */
  requestTimeoutMs?: number;
  /** Longest wait for one token answer (default 30 s, see token.ts). */
  tokenTimeoutMs?: number;
  /** Bulk API reads: rows per result set and the wait between polls of a job (defaults in read.ts; tests shrink them). */
  bulk?: { maxRecords?: number; pollMs?: number };
  /** See SalesforceAuthOptions.onRotated. */
  onRotated?: (kept: boolean) => Promise<void>;
}

const DURATION_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

function durationSeconds(d: string): number {
  const m = /^(\d+)\s*([smhdw])$/.exec(d.trim());
  return m ? Number(m[1]) * (DURATION_SECONDS[m[2]!] ?? 0) : 86_400;
}

export class SalesforceConnector implements Connector {
  readonly kind = 'salesforce' as const;
  readonly client: SalesforceClient;
  readonly session: SessionProvider;
  private readonly opts: SalesforceConnectorOptions;
  private readonly defs: SalesforceStream[];
  private facts: Promise<OrgFacts> | undefined;

  constructor(opts: SalesforceConnectorOptions) {
    this.opts = opts;
    const c = opts.config;
    this.session =
      opts.session ??
      new SalesforceAuth({
        connectionId: c.id,
        loginUrl: c.loginUrl,
        auth: c.auth,
        log: opts.log,
        ...(opts.store ? { store: opts.store } : {}),
        ...(opts.lock ? { lock: opts.lock } : {}),
        ...(opts.retry ? { retry: opts.retry } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(opts.tokenTimeoutMs !== undefined ? { tokenTimeoutMs: opts.tokenTimeoutMs } : {}),
        ...(opts.onRotated ? { onRotated: opts.onRotated } : {}),
      });
    this.client = new SalesforceClient({
      apiVersion: c.apiVersion,
      session: this.session,
      log: opts.log,
      budgetShare: c.sync.apiBudgetShare,
      ...(opts.retry ? { retry: opts.retry } : {}),
      ...(opts.sleep ? { sleep: opts.sleep } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.requestTimeoutMs !== undefined ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
    });
    this.defs = salesforceStreams(c.fields ?? {});
  }

  streams(): readonly SalesforceStream[] {
    return this.defs;
  }

  streamDef(name: string): SalesforceStream {
    const d = this.defs.find((s) => s.name === name);
    if (!d) {
      throw new AppError(
        'USAGE',
        `unknown Salesforce stream "${name}"; known: ${this.defs.map((s) => s.name).join(', ')}`,
        {
          where: '--stream',
        },
      );
    }
    return d;
  }

  apiCalls(): number {
    return this.client.apiCalls();
  }

  /** The org's usage as the last answer's Sforce-Limit-Info said. */
  async apiUsage(): Promise<ApiUsage | null> {
    return this.client.usage ? { ...this.client.usage } : null;
  }

  async identify(): Promise<OrgIdentity> {
    const s = await this.client.currentSession();
    let orgId = s.orgId;
    if (!orgId) {
      const res = await this.client.query<{ Id: string }>('SELECT Id FROM Organization LIMIT 1');
      orgId = res.records[0]?.Id;
    }
    if (!orgId) throw new AppError('CRM_AUTH_FAILED', 'Salesforce did not say which org this session belongs to');
    return { orgId, instanceUrl: s.instanceUrl };
  }

  /**
   * Says once per connector, by name, that an optional field is not in this org (or hidden from the integration
   * user): a sync goes on without it.
   */
  reportMissing(sobject: string, fields: readonly string[], consequence: string): void {
    const fresh = fields.filter((f) => !this.reported.has(`${sobject}.${f}`));
    if (fresh.length === 0) return;
    for (const f of fresh) this.reported.add(`${sobject}.${f}`);
    const names = fresh.map((f) => `${sobject}.${f}`).join(', ');
    this.opts.log.warn(
      { connection: this.opts.config.id, missing: fresh.map((f) => `${sobject}.${f}`) },
      `salesforce: ${names} ${fresh.length === 1 ? 'is' : 'are'} not in this org or hidden from the integration user; ${consequence}`,
    );
  }

  private readonly reported = new Set<string>();

  /**
   * Time zone, corporate currency and multi-currency (once per connector). Only fields describe lists are selected:
   * a multi-currency org has no Organization.DefaultCurrencyIsoCode (its corporate currency is the CurrencyType with
   * IsCorporate), and a single-currency org has no CurrencyType at all.
   */
  orgFacts(): Promise<OrgFacts> {
    this.facts ??= (async () => {
      const orgFields = await this.describedFields('Organization');
      const wanted = ['TimeZoneSidKey', 'DefaultCurrencyIsoCode'];
      const have = wanted.filter((f) => orgFields?.has(f.toLowerCase()));
      const missing = wanted.filter((f) => !have.includes(f));
      const instead: Record<string, string> = {
        TimeZoneSidKey: 'the time zone comes from the calendar',
        DefaultCurrencyIsoCode: 'the corporate currency comes from CurrencyType',
      };
      if (missing.length > 0) this.reportMissing('Organization', missing, missing.map((f) => instead[f]).join('; '));
      const res = await this.client.query<{ TimeZoneSidKey?: string; DefaultCurrencyIsoCode?: string }>(
        `SELECT ${['Id', ...have].join(', ')} FROM Organization LIMIT 1`,
      );
      const org = res.records[0] ?? {};
      const oppFields = await this.describedFields('Opportunity');
      const multiCurrency = oppFields?.has('currencyisocode') ?? false;
      let corporate = org.DefaultCurrencyIsoCode ?? null;
      if (corporate === null && (await this.describedFields('CurrencyType')) !== null) {
        const cur = await this.client.query<{ IsoCode?: string }>(
          'SELECT IsoCode FROM CurrencyType WHERE IsCorporate = true LIMIT 1',
        );
        corporate = cur.records[0]?.IsoCode ?? null;
      }
      return {
        timeZone: org.TimeZoneSidKey ?? this.opts.defaultTimeZone ?? 'UTC',
        corporateCurrency: corporate ?? this.opts.defaultCurrency ?? 'USD',
        multiCurrency,
      };
    })();
    this.facts.catch(() => {
      this.facts = undefined;
    });
    return this.facts;
  }

  /** The lower-cased field names describe lists for `sobject`, or null when the org has no such object. */
  async describedFields(sobject: string): Promise<Set<string> | null> {
    try {
      const d = await this.client.describe(sobject);
      return new Set(d.fields.map((f) => f.name.toLowerCase()));
    } catch (e) {
      if (isAppError(e) && (e.code === 'CRM_REQUEST_INVALID' || e.code === 'CRM_PERMISSION')) return null;
      throw e;
    }
  }

  read(stream: string, from: StreamCursor | null, ctx: ReadContext): AsyncGenerator<Page> {
    const c = this.opts.config;
    const start = ctx.full ? fullReadCursor((ctx.now ?? now)(), ctx.full.hadCursor) : parseCursor(from, ctx.log);
    return readSalesforceStream(
      {
        client: this.client,
        stream: this.streamDef(stream),
        mapping: c.fields ?? {},
        orgFacts: () => this.orgFacts(),
        reportMissing: (sobject, fields, consequence) => this.reportMissing(sobject, fields, consequence),
        lookbackMinutes: c.sync.lookbackMinutes,
        batchSize: c.sync.batchSize,
        formulaRefreshEverySeconds: durationSeconds(c.sync.formulaRefreshEvery),
        log: ctx.log,
        now: ctx.now ?? now,
        ...(ctx.refreshFormulas ? { refreshFormulas: true } : {}),
        ...(ctx.signal ? { signal: ctx.signal } : {}),
        ...(c.bulkThreshold !== undefined ? { bulkThreshold: c.bulkThreshold } : {}),
        ...(this.opts.sleep ? { sleep: this.opts.sleep } : {}),
        ...(this.opts.bulk?.maxRecords !== undefined ? { bulkMaxRecords: this.opts.bulk.maxRecords } : {}),
        ...(this.opts.bulk?.pollMs !== undefined ? { bulkPollMs: this.opts.bulk.pollMs } : {}),
      },
      start,
    );
  }

  /** Write-back to the User records or to one scorecard per rep and period (write.ts). */
  writePort(ctx: WritePortContext): WritePort {
    return salesforceWritePort(this.client, ctx);
  }

  /** Alert tasks as Salesforce Tasks keyed on `Quota_Alert_Key__c` (or the configured field). */
  taskSink(ctx: WritePortContext): TaskSink {
    return new SalesforceTaskWriter(this.client, ctx.log, ctx.writeback.fields.alertKey);
  }
}
