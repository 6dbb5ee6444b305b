/**
 * QT_HEAVY=1 only (outside CI): the full large org (5,000 reps, 1,000,000 opportunities, 4,000,000 tasks and
 * 1,000,000 events) read through the connector's Bulk API reader in result sets of 50,000, with the bookings it
 * reads checked against the streaming oracle for a sample of reps and every team, and every task counted. Prints
 * the figures (rows, seconds, peak RSS of this process, which holds the sandbox and the reader).
 */
import { describe, expect, it } from 'vitest';
import { bulkQuery } from '../../../src/connectors/salesforce/bulk-query.ts';
import { SalesforceClient } from '../../../src/connectors/salesforce/client.ts';
import { rateOn } from '../../../src/sandbox/org/currencies.ts';
import { lazyFigures } from '../../../src/sandbox/org/lazy-figures.ts';
import { startSalesforceSandbox } from '../../../src/sandbox/salesforce/index.ts';
import { silentLogger } from '../../../src/util/log.ts';
import { Dec } from '../../../src/util/money.ts';
import { connect } from './helpers.ts';

const heavy = process.env.QT_HEAVY === '1';

describe.skipIf(!heavy)('the large org through Bulk API 2.0 (QT_HEAVY)', () => {
  it('reads every opportunity and task in pages, and the bookings read equal the oracle', async () => {
    const anchorDate = '2026-03-10';
    const t0 = performance.now();
    const sb = await startSalesforceSandbox({ seed: 21, size: 'large', anchorDate });
    let peak = process.memoryUsage().rss;
    const sample = () => {
      peak = Math.max(peak, process.memoryUsage().rss);
    };
    try {
      const started = (performance.now() - t0) / 1000;
      const conn = connect(sb);
      await conn.query('SELECT Id FROM User LIMIT 1');
      const session = { accessToken: conn.accessToken!, instanceUrl: sb.url };
      const client = new SalesforceClient({
        apiVersion: '62.0',
        session: { current: async () => session, refresh: async () => session },
        log: silentLogger,
      });
      const read = (soql: string, types: Map<string, string>) =>
        bulkQuery({
          client,
          soql,
          all: true,
          maxRecords: 50_000,
          types,
          pollIntervalMs: 10,
          log: silentLogger,
          sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
        });
      const model = sb.model!;
      const currencies = new Map(model.currencies.map((c) => [c.code, c]));
      const period = { start: '2026-01-01', end: '2026-03-31', asOf: anchorDate };
      const emailOf = new Map<string, string>();
      for (const p of model.people) {
        const id = sb.large!.userIds.get(p.key);
        if (id) emailOf.set(id, p.email.toLowerCase());
      }
      const booked = new Map<string, InstanceType<typeof Dec>>();
      let opps = 0;
      let pages = 0;
      const t1 = performance.now();
      for await (const page of read(
        'SELECT Id, OwnerId, StageName, Amount, CloseDate, CurrencyIsoCode FROM Opportunity',
        new Map([['Amount', 'currency']]),
      )) {
        pages++;
        opps += page.records.length;
        for (const r of page.records) {
          const close = String(r.CloseDate ?? '');
          if (r.StageName !== 'Closed Won' || r.Amount === null || close < period.start || close > period.asOf)
            continue;
          const email = emailOf.get(String(r.OwnerId)) ?? '';
          const rate = new Dec(rateOn(currencies.get(String(r.CurrencyIsoCode))!, close));
          booked.set(email, (booked.get(email) ?? new Dec(0)).plus(new Dec(String(r.Amount)).div(rate)));
        }
        sample();
      }
      const oppSeconds = (performance.now() - t1) / 1000;
      expect(opps).toBe(1_000_000);
      const t2 = performance.now();
      const oracle = lazyFigures(sb.large!.lazy, period);
      const oracleSeconds = (performance.now() - t2) / 1000;
      sample();
      const cents = (d: InstanceType<typeof Dec>) => d.toDecimalPlaces(2, Dec.ROUND_HALF_UP).toFixed(2);
      const reps = [...oracle.reps.values()];
      for (const rep of reps.filter((_, i) => i % 50 === 0)) {
        expect({ email: rep.email, actual: cents(booked.get(rep.email) ?? new Dec(0)) }).toEqual({
          email: rep.email,
          actual: rep.actual,
        });
      }
      for (const team of oracle.teams.values()) {
        const sum = reps
          .filter((r) => r.teamKey === team.key)
          .reduce((s, r) => s.plus(booked.get(r.email) ?? new Dec(0)), new Dec(0));
        expect(Math.abs(sum.minus(team.actual).toNumber())).toBeLessThan(0.06);
      }
      let tasks = 0;
      const t3 = performance.now();
      for await (const page of read('SELECT Id, OwnerId, WhatId, ActivityDate, Type FROM Task', new Map())) {
        tasks += page.records.length;
        sample();
      }
      const taskSeconds = (performance.now() - t3) / 1000;
      expect(tasks).toBe(4_000_000);
      console.log(
        JSON.stringify({
          sandboxStartSeconds: Math.round(started),
          opportunities: {
            rows: opps,
            pages,
            seconds: Math.round(oppSeconds),
            perSecond: Math.round(opps / oppSeconds),
          },
          oracleSeconds: Math.round(oracleSeconds),
          tasks: { rows: tasks, seconds: Math.round(taskSeconds), perSecond: Math.round(tasks / taskSeconds) },
          apiCalls: client.apiCalls(),
          peakRssMB: Math.round(peak / 1_048_576),
        }),
      );
    } finally {
      await sb.close();
    }
  }, 3_600_000);
});
