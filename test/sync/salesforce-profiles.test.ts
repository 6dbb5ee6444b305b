/**
 * Every sandbox org profile (src/sandbox/salesforce/profiles.ts) end to end, as a new user would meet it: synced
 * through the product (jsforce, connector, runner, PostgreSQL) and compared with the oracle, which sees the org as
 * its API shows it; then metrics, write-back and alert tasks, with each rep's quota and bookings in `report org`
 * equal to the figures oracle to the cent; and `config check --online` exits 0 and prints the teams it derives.
 * The orgs: one without Organization.DefaultCurrencyIsoCode and with Salesforce's open-range rate sentinels, one
 * without currencies, three role layouts, one without Collaborative Forecasting (quotas from its quota file) and
 * one where field-level security hides a field.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOnlineChecks } from '../../src/cli/commands/config-online.ts';
import { sandboxConnection, sandboxProfileKeys } from '../../src/cli/commands/sandbox.ts';
import { clockStartingAt, setClock } from '../../src/clock.ts';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { validateConfig } from '../../src/config/load.ts';
import { parseQuotaFile } from '../../src/config/quota-file.ts';
import type { Config } from '../../src/config/schema.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { runMetricsStep } from '../../src/metrics/engine/step.ts';
import { buildReport } from '../../src/reports/report.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { expectedRepFigures } from '../../src/sandbox/salesforce/oracle-figures.ts';
import { PROFILE_NAMES, quotaFileText } from '../../src/sandbox/salesforce/profiles.ts';
import { connectorFor } from '../../src/sync/connectors.ts';
import { runSync } from '../../src/sync/run.ts';
import { silentLogger } from '../../src/util/log.ts';
import { writebackStep } from '../../src/writeback/run.ts';
import { repeatPass } from '../helpers/ci-pass.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { sandboxConnector } from '../helpers/sandbox.ts';
import { expectWarehouseEqualsOracle } from './helpers/oracle-compare.ts';

const AS_OF = '2026-11-20';
const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
const quarter = calendar.periodContaining(AS_OF, 'quarter');

interface RepLine {
  subject: { email: string; name: string; team: string | null; manager: string | null };
  quota: string | null;
  actual: string;
  attainment: string | null;
  leftOn?: string;
}

beforeAll(() => setClock(clockStartingAt(new Date(`${AS_OF}T15:00:00Z`))));
afterAll(() => setClock(undefined));

// rotating-refresh is the default org behind a rotating connected app: an auth behaviour, not an org shape, tested
// end to end through the CLI in test/cli/rotating-refresh-profile.test.ts.
const ORG_PROFILES = PROFILE_NAMES.filter((p) => p !== 'rotating-refresh');

describe.skipIf(repeatPass).each(ORG_PROFILES)('the %s profile', (profile) => {
  let sb: SalesforceSandbox;
  let t: TestDatabase;
  let config: Config;
  beforeAll(async () => {
    t = await createTestDatabase();
    sb = await startSalesforceSandbox({ seed: 3, size: 'small', anchorDate: AS_OF, profile });
    const dir = await mkdtemp(join(tmpdir(), `qt-profile-${profile}-`));
    // The block `sandbox --profile` prints, under the calendar every profile syncs with.
    config = validateConfig({
      calendar: { type: 'calendar', fiscalYearStartMonth: 1, timezone: 'UTC', baseCurrency: 'USD' },
      forecast: { trials: 200 },
      connections: [{ ...sandboxConnection(sb, 'sf'), sync: { batchSize: 2000 } }],
      ...(await sandboxProfileKeys(sb, dir)),
    });
  }, 120_000);
  afterAll(async () => {
    await sb?.close();
    await t?.drop();
  });

  it('syncs every stream and equals the oracle', async () => {
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
    await expectWarehouseEqualsOracle(t.db, sb, 'sf');
    const quarantined = await t.db.selectFrom('quarantine').select(['stream', 'reason_code']).execute();
    expect(quarantined.filter((q) => q.reason_code === 'UNSTORABLE_VALUE')).toEqual([]);
  }, 180_000);

  it("reports each rep's quota and bookings equal to the figures oracle, to the cent, then writes back", async () => {
    const engine = new MetricsEngine({ db: t.db, config });
    await runMetricsStep(engine, AS_OF);
    const org = await buildReport(t.db, engine, { kind: 'org', asOf: AS_OF });
    const reps = (org.reps as unknown as RepLine[]).filter((r) => r.leftOn === undefined);
    const withQuota = reps.filter((r) => r.quota !== null && r.attainment !== null);
    expect(withQuota.length).toBeGreaterThanOrEqual(10);
    const fileQuotas = sb.profile?.quotasFile
      ? parseQuotaFile(quotaFileText(sb.model!), 'quotas.csv', calendar, 'USD').map((q) => ({
          email: q.email,
          start: q.period.start,
          amount: q.amount.toFixed(),
          currency: q.currency,
        }))
      : undefined;
    const oracle = expectedRepFigures(sb.store, {
      start: quarter.start,
      end: quarter.end,
      asOf: AS_OF,
      ...(fileQuotas ? { fileQuotas } : {}),
    });
    const got = withQuota.map((r) => [r.subject.email, r.quota, r.actual]);
    const want = withQuota.map((r) => {
      const o = oracle.get(r.subject.email);
      return [r.subject.email, o?.quota ?? null, o?.actual ?? '0.00'];
    });
    expect(got).toEqual(want);

    // The manager a report names is the one who receives the rep's tasks (ManagerId), in every layout; the team is
    // the reps' team (named after their role, or after their manager without roles), never the region.
    const model = sb.model!;
    const byEmail = new Map(model.people.map((p) => [p.email.toLowerCase(), p]));
    const byKey = new Map(model.people.map((p) => [p.key, p]));
    const teamNames = new Set(model.teams.map((x) => x.name));
    for (const r of withQuota) {
      const person = byEmail.get(r.subject.email);
      // Someone who left is in no team on the as-of date.
      if (person?.isActive === false) continue;
      const manager = person?.managerKey ? byKey.get(person.managerKey)?.name : null;
      expect([r.subject.email, r.subject.manager]).toEqual([r.subject.email, manager ?? null]);
      if (profile === 'manager-only')
        expect([r.subject.email, r.subject.team]).toEqual([r.subject.email, `${manager}'s team`]);
      else
        expect([r.subject.email, r.subject.team, teamNames.has(r.subject.team ?? '')]).toEqual([
          r.subject.email,
          r.subject.team,
          true,
        ]);
    }

    const wb = {
      db: t.db,
      config,
      log: silentLogger,
      connector: (id: string) => connectorFor(t.db, config.connections.find((c) => c.id === id)!, config, silentLogger),
    };
    const lines = await writebackStep(wb, { deliver: true });
    expect(lines.join('\n')).toMatch(/record\(s\) written, 0 failed/);
    const written = sb.store
      .all('User')
      .filter((u) => u.Quota_Attainment__c !== null && u.Quota_Attainment__c !== undefined);
    expect(written.length).toBeGreaterThanOrEqual(10);
  }, 180_000);

  it('config check --online exits 0 and prints the teams and regions it derives', async () => {
    const out: string[] = [];
    const code = await runOnlineChecks(
      config,
      { stdout: (s) => out.push(s), stderr: (s) => out.push(s) },
      silentLogger,
    );
    expect(code, out.join('\n')).toBe(0);
    const text = out.join('\n');
    expect(text).toMatch(/teams and regions as a sync will derive them/);
    const json: string[] = [];
    expect(await runOnlineChecks(config, { stdout: (s) => json.push(s), stderr: () => {} }, silentLogger, true)).toBe(
      0,
    );
    const tree = JSON.parse(json.join('\n')) as {
      regions: {
        name: string | null;
        teams: { name: string; manager: string | null; reps: { hasQuota: boolean }[] }[];
      }[];
    };
    const teams = tree.regions.flatMap((r) => r.teams);
    expect(teams.length).toBeGreaterThan(1);
    expect(teams.flatMap((x) => x.reps).filter((r) => r.hasQuota).length).toBeGreaterThanOrEqual(10);
    const model = sb.model!;
    if (profile === 'manager-only') {
      expect(teams.every((x) => x.name.endsWith("'s team") && x.manager !== null)).toBe(true);
    } else {
      // Teams named after the reps' team (never after the region), regions after the role above.
      const teamNames = new Set(model.teams.map((x) => x.name));
      expect(teams.filter((x) => x.reps.some((r) => r.hasQuota)).every((x) => teamNames.has(x.name))).toBe(true);
      const regionNames = new Set(model.regions.map((x) => x.name));
      expect(tree.regions.every((r) => r.name !== null && regionNames.has(r.name))).toBe(true);
    }
  }, 120_000);
});
