/**
 * The life clock: keeps the sandbox org changing the way a sales floor does, so incremental syncs always have
 * something to pick up. Each tick advances the store's clock and makes a few seeded random changes: deals move a
 * stage (the store writes the OpportunityHistory row), close won or lost, slip their close date, change amount or
 * owner; reps log calls, emails and meetings; now and then a new deal appears.
 *
 * `changes` makes one specific change for a test (move an owner, close a deal, a late commit, a tie...), stamped
 * at the store's current time unless said otherwise.
 */
import { AppError } from '../../errors.ts';
import { addDays, dateInZone, type PlainDate } from '../../util/date.ts';
import { OPEN_STAGES, type OrgModel, Rng, type Stage, stageInfo } from '../org/index.ts';
import { rememberHardDeleted } from './oracle.ts';
import type { FieldValue, SRecord } from './schema.ts';
import type { SalesforceStore } from './store.ts';

export interface LifeOptions {
  seed: number;
  /** Real milliseconds between ticks when the clock runs on a timer; 0 or absent: ticks only when called. */
  tickMs?: number;
  /** Org time each tick moves the store's clock forward (default: tickMs, or 15 minutes). */
  advanceMs?: number;
  /** Start the timer at once (default true when tickMs > 0): how startSalesforceSandbox uses it. */
  autoStart?: boolean;
}

export interface LifeEvent {
  kind: 'advance' | 'close_won' | 'close_lost' | 'slip' | 'amount' | 'owner' | 'activity' | 'new_deal';
  type: string;
  id: string;
}

export interface LifeChanges {
  moveOwner(oppId: string, userId: string): SRecord;
  advanceStage(oppId: string): SRecord;
  closeWon(oppId: string, date?: PlainDate): SRecord;
  closeLost(oppId: string, date?: PlainDate): SRecord;
  slip(oppId: string, days: number): SRecord;
  setAmount(oppId: string, amount: number | string | null): SRecord;
  softDelete(type: string, id: string): void;
  /** Deletes for good; the oracle still expects the row, flagged deleted. */
  hardDelete(type: string, id: string): void;
  /** A record whose transaction committed late: inserted now, stamped in the past (or an update, with `Id`). */
  lateCommit(type: string, fields: Record<string, unknown>, stampInPast: Date): SRecord;
  /** Touches several records in one transaction: they all get the same SystemModstamp, which is returned. */
  tie(type: string, ids: readonly string[]): Date;
  logActivity(userId: string, kind: 'call' | 'email' | 'meeting', whatId?: string | null): SRecord;
  newDeal(ownerId: string, fields?: Record<string, unknown>): SRecord;
}

export interface LifeClock {
  /** One tick: moves the clock and makes a few changes; returns them. */
  tick(): LifeEvent[];
  start(): void;
  stop(): void;
  changes: LifeChanges;
}

function isClosedStage(stage: FieldValue | undefined): boolean {
  return typeof stage === 'string' && stage.startsWith('Closed');
}

function stageFields(stage: Stage): Record<string, unknown> {
  const info = stageInfo(stage);
  return { StageName: stage, Probability: info.probability, ForecastCategoryName: info.forecastCategory };
}

/** One-off changes against `store`, each stamped at the store's clock. */
export function lifeChanges(store: SalesforceStore, timezone = 'America/New_York'): LifeChanges {
  const opp = (id: string): SRecord => {
    const row = store.get('Opportunity', id);
    if (!row) throw new AppError('NOT_FOUND', `sandbox life: no live Opportunity ${id}`, { where: id });
    return row;
  };
  const today = (): PlainDate => dateInZone(store.now(), timezone);
  const close = (id: string, stage: 'Closed Won' | 'Closed Lost', date?: PlainDate): SRecord => {
    opp(id);
    return store.update('Opportunity', id, { ...stageFields(stage), CloseDate: date ?? today() });
  };
  return {
    moveOwner: (oppId, userId) => {
      opp(oppId);
      if (!store.get('User', userId))
        throw new AppError('NOT_FOUND', `sandbox life: no User ${userId}`, { where: userId });
      return store.update('Opportunity', oppId, { OwnerId: userId });
    },
    advanceStage: (oppId) => {
      const row = opp(oppId);
      const i = OPEN_STAGES.indexOf(row.StageName as Stage);
      if (isClosedStage(row.StageName))
        throw new AppError('USAGE', `Opportunity ${oppId} is already closed`, { where: oppId });
      const next = OPEN_STAGES[i + 1];
      return next ? store.update('Opportunity', oppId, stageFields(next)) : close(oppId, 'Closed Won');
    },
    closeWon: (oppId, date) => close(oppId, 'Closed Won', date),
    closeLost: (oppId, date) => close(oppId, 'Closed Lost', date),
    slip: (oppId, days) => {
      const row = opp(oppId);
      const from = typeof row.CloseDate === 'string' ? row.CloseDate : today();
      return store.update('Opportunity', oppId, { CloseDate: addDays(from, days) });
    },
    setAmount: (oppId, amount) => {
      opp(oppId);
      return store.update('Opportunity', oppId, { Amount: amount });
    },
    softDelete: (type, id) => store.softDelete(type, id),
    hardDelete: (type, id) => {
      const row = store.get(type, id, { includeDeleted: true });
      if (row) rememberHardDeleted(store, row);
      store.hardDelete(type, id);
    },
    lateCommit: (type, fields, stampInPast) => {
      if (stampInPast.getTime() > store.now().getTime()) {
        throw new AppError('USAGE', `a late commit must be stamped in the past, got ${stampInPast.toISOString()}`, {
          where: type,
        });
      }
      const { Id, ...rest } = fields;
      return typeof Id === 'string'
        ? store.update(type, Id, rest, { stamp: stampInPast })
        : store.insert(type, rest, { stamp: stampInPast });
    },
    tie: (type, ids) => {
      const stamp = store.now();
      for (const id of ids) store.update(type, id, {}, { stamp });
      return stamp;
    },
    logActivity: (userId, kind, whatId = null) => {
      const now = store.now();
      if (kind === 'meeting') {
        return store.insert('Event', {
          Subject: 'Meeting',
          OwnerId: userId,
          WhatId: whatId,
          ActivityDate: today(),
          ActivityDateTime: now,
          StartDateTime: now,
          EndDateTime: new Date(now.getTime() + 30 * 60_000),
          DurationInMinutes: 30,
          Type: 'Meeting',
          EventSubtype: 'Event',
        });
      }
      return store.insert('Task', {
        Subject: kind === 'call' ? 'Call' : 'Email',
        Status: 'Completed',
        Priority: 'Normal',
        OwnerId: userId,
        WhatId: whatId,
        ActivityDate: today(),
        TaskSubtype: kind === 'call' ? 'Call' : 'Email',
        Type: kind === 'call' ? 'Call' : 'Email',
        CompletedDateTime: now,
      });
    },
    newDeal: (ownerId, fields = {}) =>
      store.insert('Opportunity', {
        Name: 'New opportunity',
        OwnerId: ownerId,
        Type: 'New Business',
        CurrencyIsoCode: store.get('User', ownerId)?.DefaultCurrencyIsoCode ?? 'USD',
        Amount: 25_000,
        CloseDate: addDays(today(), 60),
        Segment__c: 'Mid-Market',
        ...stageFields('Prospecting'),
        ...fields,
      }),
  };
}

/**
 * Creates the life clock. Called as `createLifeClock(store, org, { seed, tickMs })`, or as
 * `createLifeClock(store, { seed, tickMs })` (how startSalesforceSandbox calls it): the clock works from the store
 * alone; the org model, when given, only supplies the time zone.
 */
export function createLifeClock(
  store: SalesforceStore,
  orgOrOptions: OrgModel | LifeOptions,
  maybeOptions?: LifeOptions,
): LifeClock {
  const org = 'deals' in orgOrOptions ? orgOrOptions : null;
  const opts = (org ? maybeOptions : orgOrOptions) as LifeOptions | undefined;
  if (!opts || !Number.isSafeInteger(opts.seed))
    throw new AppError('USAGE', 'createLifeClock needs { seed } (an integer)', { where: 'seed' });
  const timezone =
    org?.timezone ?? String(store.get('Organization', store.orgId)?.TimeZoneSidKey ?? 'America/New_York');
  const rng = new Rng(opts.seed ^ 0x5eed11fe);
  const changes = lifeChanges(store, timezone);
  const advanceMs = opts.advanceMs ?? (opts.tickMs && opts.tickMs > 0 ? opts.tickMs : 15 * 60_000);
  let timer: NodeJS.Timeout | null = null;

  const openDeals = (): SRecord[] => {
    const out: SRecord[] = [];
    for (const r of store.scan('Opportunity'))
      if (!isClosedStage(r.StageName) && typeof r.CloseDate === 'string') out.push(r);
    return out;
  };
  const activeOwners = (deals: SRecord[]): string[] => {
    const owners = new Set<string>();
    for (const d of deals) {
      const u = store.peek('User', String(d.OwnerId));
      if (u?.IsActive === true) owners.add(String(d.OwnerId));
    }
    return [...owners].sort();
  };

  const tick = (): LifeEvent[] => {
    store.advance(advanceMs);
    const events: LifeEvent[] = [];
    const deals = openDeals().filter((d) => store.peek('User', String(d.OwnerId))?.IsActive === true);
    const owners = activeOwners(deals);
    if (deals.length === 0 || owners.length === 0) return events;
    const n = rng.int(1, 4);
    for (let i = 0; i < n; i++) {
      const deal = rng.pick(deals);
      const id = String(deal.Id);
      if (!store.get('Opportunity', id) || isClosedStage(store.peek('Opportunity', id)?.StageName)) continue;
      const kind = rng.weighted([
        ['activity', 0.4],
        ['advance', 0.2],
        ['close', 0.12],
        ['slip', 0.1],
        ['amount', 0.08],
        ['new_deal', 0.06],
        ['owner', 0.04],
      ] as const);
      switch (kind) {
        case 'activity': {
          const what = rng.chance(0.6) ? id : null;
          const row = changes.logActivity(
            String(deal.OwnerId),
            rng.pick(['call', 'call', 'email', 'email', 'meeting'] as const),
            what,
          );
          events.push({
            kind: 'activity',
            type: row.ActivityDateTime !== undefined ? 'Event' : 'Task',
            id: String(row.Id),
          });
          break;
        }
        case 'advance':
          changes.advanceStage(id);
          events.push({ kind: 'advance', type: 'Opportunity', id });
          break;
        case 'close': {
          // Deals further along win more often, as their probability says.
          const p = Number(deal.Probability ?? 10) / 100;
          const won = rng.chance(Math.min(0.9, 0.2 + p * 0.7));
          if (won) changes.closeWon(id);
          else changes.closeLost(id);
          events.push({ kind: won ? 'close_won' : 'close_lost', type: 'Opportunity', id });
          break;
        }
        case 'slip':
          changes.slip(id, rng.int(7, 30));
          events.push({ kind: 'slip', type: 'Opportunity', id });
          break;
        case 'amount': {
          const amount = typeof deal.Amount === 'number' ? deal.Amount : null;
          if (amount === null) break;
          changes.setAmount(id, Math.max(100, Math.round((amount * (0.8 + rng.next() * 0.4)) / 100) * 100));
          events.push({ kind: 'amount', type: 'Opportunity', id });
          break;
        }
        case 'owner': {
          const to = rng.pick(owners);
          if (to === deal.OwnerId) break;
          changes.moveOwner(id, to);
          events.push({ kind: 'owner', type: 'Opportunity', id });
          break;
        }
        case 'new_deal': {
          const owner = rng.pick(owners);
          const row = changes.newDeal(owner, {
            Name: `New opportunity ${store.now().toISOString().slice(0, 16)}`,
            Amount: Math.round(rng.logNormal(30_000, 0.6) / 100) * 100,
            Segment__c: deal.Segment__c ?? 'Mid-Market',
            CurrencyIsoCode: deal.CurrencyIsoCode ?? 'USD',
          });
          events.push({ kind: 'new_deal', type: 'Opportunity', id: String(row.Id) });
          break;
        }
      }
    }
    return events;
  };

  const clock: LifeClock = {
    tick,
    start() {
      if (timer || !opts.tickMs || opts.tickMs <= 0) return;
      timer = setInterval(() => {
        try {
          tick();
        } catch {
          // A change that races a test's own edit (a deal deleted meanwhile) is skipped; the next tick goes on.
        }
      }, opts.tickMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
    },
    changes,
  };
  if (opts.autoStart ?? (opts.tickMs !== undefined && opts.tickMs > 0)) clock.start();
  return clock;
}

/**
 * One change through the sandbox test API: `{ op: 'moveOwner' | 'advanceStage' | 'closeWon' | 'closeLost' | 'slip' |
 * 'setAmount' | 'softDelete' | 'hardDelete' | 'lateCommit' | 'tie' | 'logActivity' | 'newDeal', ...args }`.
 */
export function applyLifeChange(store: SalesforceStore, change: Record<string, unknown>): unknown {
  const c = lifeChanges(store);
  const s = (k: string): string => {
    const v = change[k];
    if (typeof v !== 'string')
      throw new AppError('USAGE', `life change ${String(change.op)}: "${k}" must be a string`, { where: k });
    return v;
  };
  switch (change.op) {
    case 'moveOwner':
      return c.moveOwner(s('oppId'), s('userId'));
    case 'advanceStage':
      return c.advanceStage(s('oppId'));
    case 'closeWon':
      return c.closeWon(s('oppId'), typeof change.date === 'string' ? change.date : undefined);
    case 'closeLost':
      return c.closeLost(s('oppId'), typeof change.date === 'string' ? change.date : undefined);
    case 'slip':
      return c.slip(s('oppId'), Number(change.days));
    case 'setAmount':
      return c.setAmount(s('oppId'), (change.amount ?? null) as number | string | null);
    case 'softDelete':
      c.softDelete(s('type'), s('id'));
      return { ok: true };
    case 'hardDelete':
      c.hardDelete(s('type'), s('id'));
      return { ok: true };
    case 'lateCommit':
      return c.lateCommit(s('type'), (change.fields ?? {}) as Record<string, unknown>, new Date(s('stamp')));
    case 'tie':
      return { stamp: c.tie(s('type'), (change.ids ?? []) as string[]).toISOString() };
    case 'logActivity':
      return c.logActivity(
        s('userId'),
        s('kind') as 'call' | 'email' | 'meeting',
        (change.whatId ?? null) as string | null,
      );
    case 'newDeal':
      return c.newDeal(s('ownerId'), (change.fields ?? {}) as Record<string, unknown>);
    default:
      throw new AppError('USAGE', `unknown life change op "${String(change.op)}"`, { where: 'op' });
  }
}
