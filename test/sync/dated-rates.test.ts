/**
 * An org with advanced currency management (the `dated-rates` profile): Salesforce's open-range sentinels are
 * stored (as -infinity and infinity) and used, and EUR amounts convert at the rate in force on their date: a deal
 * closed before a mid-quarter rate change at the old rate, an open deal at the rate of the as-of date (the last
 * range, which runs to 9999-12-31), and a deal from years ago at the first range (from 0000-12-30). Before, the
 * first sentinel failed the rates stream with INTERNAL ("date/time field value out of range") and EUR converted
 * at whatever rates were left. (The FY2020-Q1 figures are read as of today: a deal entered today did not exist as of 2020.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { validateConfig } from '../../src/config/load.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { runMetricsStep } from '../../src/metrics/engine/step.ts';
import { buildReport } from '../../src/reports/report.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { runSync } from '../../src/sync/run.ts';
import { Dec } from '../../src/util/money.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { sandboxConnector } from '../helpers/sandbox.ts';

const AS_OF = '2026-11-20';
const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
const config = validateConfig({
  calendar: { type: 'calendar', fiscalYearStartMonth: 1, timezone: 'UTC', baseCurrency: 'USD' },
  forecast: { trials: 200 },
});
let sb: SalesforceSandbox;
let t: TestDatabase;
let engine: MetricsEngine;
let email: string;

async function syncAndRecompute(asOf: string) {
  const connector = sandboxConnector(sb);
  for (const s of connector.streams()) {
    const r = await runSync({
      db: t.db,
      connector,
      connectionId: 'sf',
      stream: s.name,
      calendar,
      now: () => sb.store.now(),
    });
    expect(r.status, `${s.name}: ${r.errorMessage}`).toBe('succeeded');
  }
  await runMetricsStep(engine, asOf);
}

const rate = (day: string) => {
  const r = sb.store
    .all('DatedConversionRate')
    .find((x) => x.IsoCode === 'EUR' && String(x.StartDate) <= day && day < String(x.NextStartDate));
  return { rate: new Dec(String(r?.ConversionRate)), start: String(r?.StartDate), next: String(r?.NextStartDate) };
};

type Figures = { actual: string; pipeline: { open: string } };
const rep = async (period?: string, asOf = AS_OF) =>
  (await buildReport(t.db, engine, {
    kind: 'rep',
    rep: email,
    asOf,
    ...(period ? { period } : {}),
  })) as unknown as Figures;

beforeAll(async () => {
  t = await createTestDatabase();
  sb = await startSalesforceSandbox({ seed: 3, size: 'small', anchorDate: AS_OF, profile: 'dated-rates' });
  engine = new MetricsEngine({ db: t.db, config });
  const owner = sb.model!.people.find((p) => p.role === 'rep' && p.isActive && p.quotaCarrying)!;
  email = owner.email.toLowerCase();
  await syncAndRecompute(AS_OF);
}, 180_000);
afterAll(async () => {
  await sb?.close();
  await t?.drop();
});

describe('dated rates with Salesforce sentinels', () => {
  it('stores the open ends and converts EUR at the rate in force on each date', async () => {
    const ends = await t.db
      .selectFrom('fx_rates')
      .select(['valid_from', 'valid_to'])
      .where('currency', '=', 'EUR')
      .where('source', '=', 'crm_dated')
      .where((eb) => eb.or([eb('valid_from', '=', '-infinity'), eb('valid_to', '=', 'infinity')]))
      .orderBy('valid_from')
      .execute();
    expect(
      ends.map((e) => [e.valid_from, e.valid_to]).map(([f, to]) => [f === '-infinity', to === 'infinity']),
    ).toEqual([
      [true, false],
      [false, true],
    ]);

    const october = rate('2026-10-15');
    const today = rate(AS_OF);
    const old = rate('2020-02-10');
    expect(october.rate.eq(today.rate)).toBe(false);
    expect(today.next).toBe('9999-12-31');
    expect(old.start).toBe('0000-12-30');

    const before = await rep();
    const beforeOld = await rep('FY2020-Q1');
    const ownerId = String(sb.store.all('User').find((u) => String(u.Email).toLowerCase() === email)?.Id);
    const account = String(sb.store.all('Account')[0]?.Id);
    const deal = (name: string, stage: string, close: string, amount: number) =>
      sb.store.insert('Opportunity', {
        Name: name,
        AccountId: account,
        OwnerId: ownerId,
        StageName: stage,
        CloseDate: close,
        Amount: amount,
        CurrencyIsoCode: 'EUR',
        Probability: stage === 'Closed Won' ? 100 : 90,
        ForecastCategoryName: stage === 'Closed Won' ? 'Closed' : 'Commit',
        Type: 'New Business',
      });
    sb.store.advance(60_000);
    deal('EUR closed before the change', 'Closed Won', '2026-10-15', 10_000);
    deal('EUR open after it', 'Negotiation/Review', '2026-12-15', 20_000);
    deal('EUR from years ago', 'Closed Won', '2020-02-10', 5_000);
    sb.store.advance(60_000);
    await syncAndRecompute(AS_OF);

    const after = await rep();
    const cents = (d: InstanceType<typeof Dec>) => d.toDecimalPlaces(2, Dec.ROUND_HALF_UP).toFixed(2);
    expect(cents(new Dec(after.actual).minus(before.actual))).toBe(cents(new Dec(10_000).div(october.rate)));
    expect(cents(new Dec(after.pipeline.open).minus(before.pipeline.open))).toBe(
      cents(new Dec(20_000).div(today.rate)),
    );
    const afterOld = await rep('FY2020-Q1');
    expect(cents(new Dec(afterOld.actual).minus(beforeOld.actual))).toBe(cents(new Dec(5_000).div(old.rate)));
  }, 180_000);
});
