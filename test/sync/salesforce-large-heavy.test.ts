/**
 * QT_HEAVY=1 only (outside CI): the large org (5,000 reps, 1,000,000 opportunities; QT_LARGE_DEALS and
 * QT_LARGE_REPS shrink it for a quicker look) synced through the product: the connector (opportunities above the
 * default bulkThreshold, so through a Bulk API 2.0 job), the sync engine and PostgreSQL. Every deal arrives once,
 * and the bookings the warehouse holds equal the streaming oracle's for a sample of reps (every 50th) and for every
 * team. Prints the figures (rows, seconds, records per second, API calls, peak RSS of this process, which also
 * holds the sandbox).
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { sandboxLogin } from '../../src/cli/commands/sandbox.ts';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { SalesforceConnector } from '../../src/connectors/salesforce/connector.ts';
import { rateOn } from '../../src/sandbox/org/currencies.ts';
import { lazyFigures } from '../../src/sandbox/org/lazy-figures.ts';
import { startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { runSync } from '../../src/sync/run.ts';
import { silentLogger } from '../../src/util/log.ts';
import { Dec } from '../../src/util/money.ts';
import { createTestDatabase } from '../helpers/db.ts';

const heavy = process.env.QT_HEAVY === '1';
const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });

describe.skipIf(!heavy)('the large org synced through Bulk API 2.0 (QT_HEAVY)', () => {
  it('syncs every opportunity once and the warehouse bookings equal the oracle for sampled reps and every team', async () => {
    const anchorDate = '2026-03-10';
    const deals = Number(process.env.QT_LARGE_DEALS ?? 1_000_000);
    const repsCount = Number(process.env.QT_LARGE_REPS ?? 5_000);
    const small = deals < 1_000_000;
    const sb = await startSalesforceSandbox({
      seed: 21,
      size: 'large',
      anchorDate,
      ...(small ? { largeCounts: { reps: repsCount, deals, activities: 1_000 } } : {}),
    });
    const t = await createTestDatabase();
    let peak = process.memoryUsage().rss;
    try {
      const connector = new SalesforceConnector({
        config: {
          ...sandboxLogin(sb, 'sf'),
          sync: { lookbackMinutes: 10, apiBudgetShare: 0.9, formulaRefreshEvery: '24h', batchSize: 2000 },
          // The default; a shrunk org still goes through bulk.
          bulkThreshold: small ? 1_000 : 100_000,
        },
        log: silentLogger,
        bulk: { pollMs: 50 },
      });
      const figures: Record<string, unknown> = {};
      for (const stream of ['users', 'opportunities']) {
        const t0 = performance.now();
        const r = await runSync({
          db: t.db,
          connector,
          connectionId: 'sf',
          stream,
          calendar,
          now: () => sb.store.now(),
          onProgress: () => {
            peak = Math.max(peak, process.memoryUsage().rss);
          },
        });
        expect(r.status, r.errorMessage).toBe('succeeded');
        const seconds = (performance.now() - t0) / 1000;
        figures[stream] = {
          read: r.read,
          apiCalls: r.apiCalls,
          seconds: Math.round(seconds),
          perSecond: Math.round(r.read / seconds),
        };
      }
      const n = await sql<{ n: string }>`select count(*) as n from deals`.execute(t.db);
      expect(Number(n.rows[0]!.n)).toBe(deals);

      const period = { start: '2026-01-01', end: '2026-03-31', asOf: anchorDate };
      const currencies = new Map(sb.model!.currencies.map((c) => [c.code, c]));
      const won = await sql<{ email: string; amount: string; currency: string; close_date: string }>`
        select lower(r.email) as email, d.amount::text as amount, d.currency, d.close_date::text as close_date
        from deals d join reps r on r.connection_id = d.connection_id and r.external_id = d.owner_external_id
        where d.stage_category = 'won' and d.amount is not null and not d.is_deleted
          and d.close_date between ${period.start} and ${period.asOf}`.execute(t.db);
      const booked = new Map<string, InstanceType<typeof Dec>>();
      for (const w of won.rows) {
        const rate = new Dec(rateOn(currencies.get(w.currency)!, w.close_date));
        booked.set(w.email, (booked.get(w.email) ?? new Dec(0)).plus(new Dec(w.amount).div(rate)));
      }
      const oracle = lazyFigures(sb.large!.lazy, period);
      const cents = (d: InstanceType<typeof Dec>) => d.toDecimalPlaces(2, Dec.ROUND_HALF_UP).toFixed(2);
      const reps = [...oracle.reps.values()];
      let sampled = 0;
      for (const rep of reps.filter((_, i) => i % 50 === 0)) {
        sampled++;
        expect({ email: rep.email, actual: cents(booked.get(rep.email) ?? new Dec(0)) }).toEqual({
          email: rep.email,
          actual: rep.actual,
        });
      }
      for (const team of oracle.teams.values()) {
        const sum = reps
          .filter((r) => r.teamKey === team.key)
          .reduce((s, r) => s.plus(booked.get(r.email) ?? new Dec(0)), new Dec(0));
        // Each rep's cents are rounded once: a team of ten differs from the sum of exact figures by under 6 cents.
        expect(Math.abs(sum.minus(team.actual).toNumber())).toBeLessThan(0.06);
      }
      console.log(
        JSON.stringify({
          deals,
          ...figures,
          sampledReps: sampled,
          teams: oracle.teams.size,
          peakRssMB: Math.round(peak / 1_048_576),
        }),
      );
    } finally {
      await sb.close();
      await t.drop();
    }
  }, 3_600_000);
});
