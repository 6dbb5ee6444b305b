/**
 * The HubSpot sandbox's life clock: the same kinds of change as the Salesforce one (`../salesforce/life.ts`),
 * made the HubSpot way. Deals move stages (property history records it) and close won or lost by their pipeline's
 * stage metadata, slip, change amount or currency (the home amount follows), change owner; reps log calls, emails
 * and meetings; owners change teams; a deal is archived and later restored; new deals appear. Every change goes
 * through the store, so the list, search and webhook paths all see it, with HubSpot's stamps.
 *
 * `changes` makes one specific change for a test, including a late commit (stamped in the past) and a tie (several
 * records written in one millisecond).
 */
import { AppError } from '../../errors.ts';
import { addDays, dateInZone, type PlainDate } from '../../util/date.ts';
import { Rng } from '../org/index.ts';
import { dealDerived } from './crm.ts';
import { associate, refreshGoalProgress, zonedMidnight } from './populate.ts';
import type { HsRecord, HubSpotStore, Props, Stage } from './store.ts';

export interface HubSpotLifeEvent {
  kind:
    | 'advance'
    | 'close_won'
    | 'close_lost'
    | 'slip'
    | 'amount'
    | 'currency'
    | 'owner'
    | 'team'
    | 'activity'
    | 'new_deal'
    | 'archive'
    | 'restore';
  type: string;
  id: string;
}

export interface HubSpotLifeChanges {
  advanceStage(dealId: string): HsRecord;
  closeWon(dealId: string, date?: PlainDate): HsRecord;
  closeLost(dealId: string, date?: PlainDate): HsRecord;
  slip(dealId: string, days: number): HsRecord;
  setAmount(dealId: string, amount: string | null): HsRecord;
  setCurrency(dealId: string, currency: string, amount: string): HsRecord;
  moveOwner(dealId: string, ownerId: string): HsRecord;
  moveTeam(ownerId: string, teamId: string): void;
  archive(type: string, id: string): void;
  restore(type: string, id: string): HsRecord;
  /** A write committed late: visible from now, stamped `stampInPast` (an update when `id` is given). */
  lateCommit(type: string, props: Props, stampInPast: Date, id?: string): HsRecord;
  /** Several records written in one millisecond: the shared stamp. */
  tie(type: string, ids: readonly string[], props?: Props): Date;
  logActivity(ownerId: string, kind: 'call' | 'email' | 'meeting', dealId?: string | null): HsRecord;
  newDeal(ownerId: string, props?: Props): HsRecord;
  /**
   * Links a record (an engagement, a line item, a lead) to a deal after the fact, as a rep does from the deal's
   * timeline: no stamp moves on either side (airbytehq/airbyte#44554), so a read by stamp does not see it.
   */
  associate(type: string, id: string, dealId: string): void;
}

export interface HubSpotLifeClock {
  tick(): HubSpotLifeEvent[];
  start(): void;
  stop(): void;
  changes: HubSpotLifeChanges;
}

function stagesOf(store: HubSpotStore, pipelineId: string | null): Stage[] {
  const p = (store.pipelines.get('deals') ?? []).find((x) => x.id === (pipelineId ?? 'default'));
  if (!p) throw new AppError('NOT_FOUND', `no deal pipeline ${String(pipelineId)}`, { where: String(pipelineId) });
  return p.stages;
}

const isWon = (s: Stage) => s.metadata.isClosed === 'true' && Number(s.metadata.probability) === 1;
const isLost = (s: Stage) => s.metadata.isClosed === 'true' && Number(s.metadata.probability) === 0;

export function lifeChanges(store: HubSpotStore): HubSpotLifeChanges {
  const ctx = { store, baseUrl: '', customObjects: true };
  const deal = (id: string): HsRecord => {
    const r = store.get('deals', id);
    if (!r) throw new AppError('NOT_FOUND', `sandbox life: no live deal ${id}`, { where: id });
    return r;
  };
  const today = (): PlainDate => dateInZone(store.now(), store.timezone);
  const write = (rec: HsRecord, props: Props): HsRecord => store.update('deals', rec.id, dealDerived(ctx, rec, props));
  const close = (id: string, won: boolean, date?: PlainDate): HsRecord => {
    const rec = deal(id);
    const stage = stagesOf(store, rec.props.pipeline ?? null).find(won ? isWon : isLost);
    if (!stage)
      throw new AppError('INTERNAL', `pipeline ${String(rec.props.pipeline)} has no ${won ? 'won' : 'lost'} stage`);
    const out = write(rec, {
      dealstage: stage.id,
      closedate: new Date(zonedMidnight(date ?? today(), store.timezone)).toISOString(),
    });
    if (won) refreshGoalProgress(store);
    return out;
  };
  const ownerOrThrow = (ownerId: string) => {
    const o = store.owners.get(Number(ownerId));
    if (!o) throw new AppError('NOT_FOUND', `sandbox life: no owner ${ownerId}`, { where: ownerId });
    return o;
  };
  return {
    advanceStage: (id) => {
      const rec = deal(id);
      const stages = stagesOf(store, rec.props.pipeline ?? null);
      const i = stages.findIndex((s) => s.id === rec.props.dealstage);
      const cur = stages[i];
      if (cur && cur.metadata.isClosed === 'true')
        throw new AppError('USAGE', `deal ${id} is already closed`, { where: id });
      const next = stages[i + 1];
      return next && next.metadata.isClosed !== 'true' ? write(rec, { dealstage: next.id }) : close(id, true);
    },
    closeWon: (id, date) => close(id, true, date),
    closeLost: (id, date) => close(id, false, date),
    slip: (id, days) => {
      const rec = deal(id);
      const from = rec.props.closedate ? dateInZone(rec.props.closedate, store.timezone) : today();
      return write(rec, { closedate: new Date(zonedMidnight(addDays(from, days), store.timezone)).toISOString() });
    },
    setAmount: (id, amount) => write(deal(id), { amount }),
    setCurrency: (id, currency, amount) => {
      if (!store.currencies.includes(currency))
        throw new AppError('USAGE', `the portal has no currency ${currency}`, { where: currency });
      return write(deal(id), { deal_currency_code: currency, amount });
    },
    moveOwner: (id, ownerId) => {
      ownerOrThrow(ownerId);
      return write(deal(id), { hubspot_owner_id: ownerId });
    },
    moveTeam: (ownerId, teamId) => {
      const o = ownerOrThrow(ownerId);
      const team = store.teams.get(teamId);
      if (!team) throw new AppError('NOT_FOUND', `sandbox life: no team ${teamId}`, { where: teamId });
      for (const t of store.teams.values()) t.userIds = t.userIds.filter((u) => u !== String(o.userId));
      if (o.userId !== null) team.userIds.push(String(o.userId));
      o.teams = [{ id: team.id, name: team.name, primary: true }];
      o.updatedAt = store.nowMs();
      const u = o.userId !== null ? store.users.get(o.userId) : undefined;
      if (u) u.primaryTeamId = team.id;
    },
    archive: (type, id) => store.archive(type, id),
    restore: (type, id) => store.restore(type, id),
    lateCommit: (type, props, stampInPast, id) => {
      if (stampInPast.getTime() > store.nowMs())
        throw new AppError('USAGE', `a late commit must be stamped in the past, got ${stampInPast.toISOString()}`, {
          where: type,
        });
      const stamp = stampInPast.getTime();
      return id ? store.update(type, id, props, { stamp }) : store.create(type, props, { stamp, createdAt: stamp });
    },
    tie: (type, ids, props = {}) => {
      const stamp = store.nowMs();
      for (const id of ids) store.update(type, id, { ...props }, { stamp });
      return new Date(stamp);
    },
    associate: (type, id, dealId) => {
      if (!store.get(type, id)) throw new AppError('NOT_FOUND', `no live ${type} ${id}`, { where: id });
      if (!store.get('deals', dealId)) throw new AppError('NOT_FOUND', `no live deal ${dealId}`, { where: dealId });
      associate(store, type, Number(id), 'deals', Number(dealId), false);
    },
    logActivity: (ownerId, kind, dealId = null) => {
      ownerOrThrow(ownerId);
      const now = store.now().toISOString();
      const type = kind === 'call' ? 'calls' : kind === 'email' ? 'emails' : 'meetings';
      const props: Props =
        kind === 'call'
          ? {
              hs_timestamp: now,
              hs_call_title: 'Call',
              hs_call_status: 'COMPLETED',
              hs_call_duration: '600000',
              hs_call_direction: 'OUTBOUND',
            }
          : kind === 'email'
            ? { hs_timestamp: now, hs_email_subject: 'Follow-up', hs_email_direction: 'EMAIL', hs_email_status: 'SENT' }
            : {
                hs_timestamp: now,
                hs_meeting_title: 'Meeting',
                hs_meeting_start_time: now,
                hs_meeting_end_time: new Date(store.nowMs() + 30 * 60_000).toISOString(),
                hs_meeting_outcome: 'COMPLETED',
              };
      const rec = store.create(type, { ...props, hubspot_owner_id: ownerId });
      if (dealId && store.get('deals', dealId)) associate(store, type, rec.id, 'deals', Number(dealId), false);
      return rec;
    },
    newDeal: (ownerId, props = {}) => {
      ownerOrThrow(ownerId);
      const stages = stagesOf(store, props.pipeline ?? 'default');
      const first = stages[0] as Stage;
      const base: Props = {
        dealname: 'New deal',
        amount: '25000',
        deal_currency_code: store.homeCurrency,
        closedate: new Date(zonedMidnight(addDays(today(), 60), store.timezone)).toISOString(),
        pipeline: 'default',
        dealstage: first.id,
        hubspot_owner_id: ownerId,
        dealtype: 'newbusiness',
        hs_manual_forecast_category: 'PIPELINE',
        segment: 'Mid-Market',
        ...props,
      };
      return store.create('deals', { ...base, ...dealDerived(ctx, null, base) });
    },
  };
}

export interface HubSpotLifeOptions {
  seed: number;
  tickMs?: number;
  advanceMs?: number;
  autoStart?: boolean;
}

export function createHubSpotLifeClock(store: HubSpotStore, opts: HubSpotLifeOptions): HubSpotLifeClock {
  if (!Number.isSafeInteger(opts.seed))
    throw new AppError('USAGE', 'createHubSpotLifeClock needs { seed } (an integer)', { where: 'seed' });
  const rng = new Rng(opts.seed ^ 0x4b5b0711);
  const changes = lifeChanges(store);
  const advanceMs = opts.advanceMs ?? (opts.tickMs && opts.tickMs > 0 ? opts.tickMs : 15 * 60_000);
  let timer: NodeJS.Timeout | null = null;
  let archivedByLife: string[] = [];

  const activeOwners = (): string[] =>
    [...store.owners.values()]
      .filter((o) => !o.archived && o.teams.length > 0)
      .map((o) => String(o.id))
      .sort();

  const tick = (): HubSpotLifeEvent[] => {
    store.advance(advanceMs);
    const events: HubSpotLifeEvent[] = [];
    const owners = activeOwners();
    const ownerSet = new Set(owners);
    const open: HsRecord[] = [];
    for (const d of store.scan('deals'))
      if (d.props.hs_is_closed !== 'true' && d.props.closedate && ownerSet.has(d.props.hubspot_owner_id ?? ''))
        open.push(d);
    if (open.length === 0 || owners.length === 0) return events;
    const n = rng.int(1, 4);
    for (let i = 0; i < n; i++) {
      const d = rng.pick(open);
      const id = String(d.id);
      if (!store.get('deals', id) || store.get('deals', id)?.props.hs_is_closed === 'true') continue;
      const kind = rng.weighted([
        ['activity', 0.38],
        ['advance', 0.2],
        ['close', 0.12],
        ['slip', 0.09],
        ['amount', 0.07],
        ['new_deal', 0.05],
        ['owner', 0.03],
        ['team', 0.02],
        ['currency', 0.02],
        ['archive', 0.02],
      ] as const);
      switch (kind) {
        case 'activity': {
          const rec = changes.logActivity(
            d.props.hubspot_owner_id as string,
            rng.pick(['call', 'call', 'email', 'email', 'meeting'] as const),
            rng.chance(0.6) ? id : null,
          );
          events.push({ kind: 'activity', type: 'engagement', id: String(rec.id) });
          break;
        }
        case 'advance':
          changes.advanceStage(id);
          events.push({ kind: 'advance', type: 'deals', id });
          break;
        case 'close': {
          const p = Number(d.props.hs_deal_stage_probability ?? '0.1');
          const won = rng.chance(Math.min(0.9, 0.2 + p * 0.7));
          if (won) changes.closeWon(id);
          else changes.closeLost(id);
          events.push({ kind: won ? 'close_won' : 'close_lost', type: 'deals', id });
          break;
        }
        case 'slip':
          changes.slip(id, rng.int(7, 30));
          events.push({ kind: 'slip', type: 'deals', id });
          break;
        case 'amount': {
          if (!d.props.amount) break;
          const next = Math.max(100, Math.round((Number(d.props.amount) * (0.8 + rng.next() * 0.4)) / 100) * 100);
          changes.setAmount(id, String(next));
          events.push({ kind: 'amount', type: 'deals', id });
          break;
        }
        case 'currency': {
          const others = store.currencies.filter((c) => c !== d.props.deal_currency_code);
          if (others.length === 0 || !d.props.amount) break;
          changes.setCurrency(id, rng.pick(others), d.props.amount);
          events.push({ kind: 'currency', type: 'deals', id });
          break;
        }
        case 'owner': {
          const to = rng.pick(owners);
          if (to === d.props.hubspot_owner_id) break;
          changes.moveOwner(id, to);
          events.push({ kind: 'owner', type: 'deals', id });
          break;
        }
        case 'team': {
          const o = rng.pick(owners);
          const teams = [...store.teams.keys()].sort();
          const to = rng.pick(teams);
          changes.moveTeam(o, to);
          events.push({ kind: 'team', type: 'owners', id: o });
          break;
        }
        case 'archive': {
          // A deal deleted by mistake comes back from the recycle bin a tick or two later.
          const back = archivedByLife.shift();
          if (back && store.peek('deals', back)?.archived) {
            changes.restore('deals', back);
            events.push({ kind: 'restore', type: 'deals', id: back });
          } else {
            changes.archive('deals', id);
            archivedByLife.push(id);
            events.push({ kind: 'archive', type: 'deals', id });
          }
          break;
        }
        case 'new_deal': {
          const rec = changes.newDeal(rng.pick(owners), {
            dealname: `New deal ${store.now().toISOString().slice(0, 16)}`,
            amount: String(Math.round(rng.logNormal(30_000, 0.6) / 100) * 100),
            deal_currency_code: d.props.deal_currency_code ?? store.homeCurrency,
            pipeline: d.props.pipeline ?? 'default',
            dealstage: stagesOf(store, d.props.pipeline ?? 'default')[0]?.id ?? null,
            segment: d.props.segment ?? 'Mid-Market',
          });
          events.push({ kind: 'new_deal', type: 'deals', id: String(rec.id) });
          break;
        }
      }
    }
    return events;
  };

  const clock: HubSpotLifeClock = {
    tick,
    start() {
      if (timer || !opts.tickMs || opts.tickMs <= 0) return;
      timer = setInterval(() => {
        try {
          tick();
        } catch {
          // A change racing a test's own edit is skipped; the next tick goes on.
        }
      }, opts.tickMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
      archivedByLife = [];
    },
    changes,
  };
  if (opts.autoStart ?? (opts.tickMs !== undefined && opts.tickMs > 0)) clock.start();
  return clock;
}

/** One change through the test API: `{ op, ...args }` naming a `HubSpotLifeChanges` method. */
export function applyHubSpotLifeChange(store: HubSpotStore, change: Record<string, unknown>): unknown {
  const c = lifeChanges(store);
  const s = (k: string): string => {
    const v = change[k];
    if (typeof v !== 'string')
      throw new AppError('USAGE', `life change ${String(change.op)}: "${k}" must be a string`, { where: k });
    return v;
  };
  const props = (change.props ?? {}) as Props;
  const json = (r: HsRecord) => ({
    id: String(r.id),
    properties: r.props,
    updatedAt: new Date(r.updatedAt).toISOString(),
  });
  switch (change.op) {
    case 'advanceStage':
      return json(c.advanceStage(s('dealId')));
    case 'closeWon':
      return json(c.closeWon(s('dealId'), typeof change.date === 'string' ? change.date : undefined));
    case 'closeLost':
      return json(c.closeLost(s('dealId'), typeof change.date === 'string' ? change.date : undefined));
    case 'slip':
      return json(c.slip(s('dealId'), Number(change.days)));
    case 'setAmount':
      return json(c.setAmount(s('dealId'), (change.amount ?? null) as string | null));
    case 'setCurrency':
      return json(c.setCurrency(s('dealId'), s('currency'), s('amount')));
    case 'moveOwner':
      return json(c.moveOwner(s('dealId'), s('ownerId')));
    case 'moveTeam':
      c.moveTeam(s('ownerId'), s('teamId'));
      return { ok: true };
    case 'archive':
      c.archive(s('type'), s('id'));
      return { ok: true };
    case 'restore':
      return json(c.restore(s('type'), s('id')));
    case 'lateCommit':
      return json(
        c.lateCommit(s('type'), props, new Date(s('stamp')), typeof change.id === 'string' ? change.id : undefined),
      );
    case 'tie':
      return { stamp: c.tie(s('type'), (change.ids ?? []) as string[], props).toISOString() };
    case 'logActivity':
      return json(
        c.logActivity(
          s('ownerId'),
          s('kind') as 'call' | 'email' | 'meeting',
          (change.dealId ?? null) as string | null,
        ),
      );
    case 'newDeal':
      return json(c.newDeal(s('ownerId'), props));
    case 'associate':
      c.associate(s('type'), s('id'), s('dealId'));
      return { ok: true };
    default:
      throw new AppError('USAGE', `unknown life change op "${String(change.op)}"`, { where: 'op' });
  }
}
