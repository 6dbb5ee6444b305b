/**
 * The Salesforce connector: one per configured connection, holding its session, its REST client and what it
 * learned about the org. `read()` yields the pages of one stream (see read.ts).
 */
import { now } from '../../clock.ts';
import { AppError } from '../../errors.ts';
import type { Logger } from '../../util/log.ts';
import type { RetryOptions } from '../retry-policy.ts';
import type { Connector, OrgIdentity, Page, ReadContext, StreamSpec, SyncCursor } from '../types.ts';
import { type CredentialStore, type RefreshLock, SalesforceAuth, type SalesforceAuthConfig } from './auth.ts';
import { SalesforceClient, type SessionProvider } from './client.ts';
import { type OrgFacts, readSalesforceStream } from './read.ts';
import { type SalesforceFieldMapping, type SalesforceStream, salesforceStreams } from './streams.ts';

/** The parts of a salesforce connection's config the connector uses (`SalesforceConnectionConfig` fits). */
export interface SalesforceConnectorConfig {
  id: string;
  loginUrl: string;
  apiVersion: string;
  auth: SalesforceAuthConfig;
  sync: { lookbackMinutes: number; apiBudgetShare: number; formulaRefreshEvery: string; batchSize: number };
  fields?: SalesforceFieldMapping;
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
  /** Overrides for tests. */
  session?: SessionProvider;
  retry?: Partial<RetryOptions>;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  signal?: AbortSignal;
  /** Longest wait for one complete answer (see SalesforceClientOptions). */
  requestTimeoutMs?: number;
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

  streams(): readonly StreamSpec[] {
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

  /** Time zone, corporate currency and multi-currency, from the Organization row (once per connector). */
  orgFacts(): Promise<OrgFacts> {
    this.facts ??= (async () => {
      const res = await this.client.query<{ TimeZoneSidKey?: string; DefaultCurrencyIsoCode?: string }>(
        'SELECT Id, TimeZoneSidKey, DefaultCurrencyIsoCode FROM Organization LIMIT 1',
      );
      const org = res.records[0] ?? {};
      const opp = await this.client.describe('Opportunity');
      const multiCurrency = opp.fields.some((f) => f.name === 'CurrencyIsoCode');
      return {
        timeZone: org.TimeZoneSidKey ?? this.opts.defaultTimeZone ?? 'UTC',
        corporateCurrency: org.DefaultCurrencyIsoCode ?? 'USD',
        multiCurrency,
      };
    })();
    this.facts.catch(() => {
      this.facts = undefined;
    });
    return this.facts;
  }

  read(stream: string, from: SyncCursor | null, ctx: ReadContext): AsyncGenerator<Page> {
    const c = this.opts.config;
    return readSalesforceStream(
      {
        client: this.client,
        stream: this.streamDef(stream),
        mapping: c.fields ?? {},
        orgFacts: () => this.orgFacts(),
        lookbackMinutes: c.sync.lookbackMinutes,
        batchSize: c.sync.batchSize,
        formulaRefreshEverySeconds: durationSeconds(c.sync.formulaRefreshEvery),
        log: ctx.log,
        now: ctx.now ?? now,
        ...(ctx.refreshFormulas ? { refreshFormulas: true } : {}),
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      },
      from,
    );
  }
}
