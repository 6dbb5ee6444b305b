/**
 * Scheduled report deliveries (`reports.deliveries`): which slot a delivery owes on a given instant; the config's
 * checks; the job scheduler per delivery; and the `deliver-reports` job on the golden warehouse, sending the org
 * summary, every team's dashboard and the leaderboard as HTML and Markdown files into a folder and a Slack-style
 * message to a webhook received on a local port: once per slot across restarts, again after a refusal, never again
 * after a call that got no answer; and the link in the message opens the stored file for whom the report API
 * would let in.
 */

import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { validateConfig } from '../../src/config/load.ts';
import { isAppError } from '../../src/errors.ts';
import { createPipeline } from '../../src/jobs/pipeline.ts';
import { desiredSchedulers } from '../../src/jobs/schedules.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { DELIVERY_CHECK_CRON, deliverySlot, fileSlug } from '../../src/reports/deliveries.ts';
import { buildReport } from '../../src/reports/report.ts';
import { silentLogger } from '../../src/util/log.ts';
import { createWebApp } from '../../src/web/app.ts';
import { createApiToken } from '../../src/web/tokens.ts';
import { goldenWarehouse } from '../fixtures/warehouse/load.ts';
import type { TestDatabase } from '../helpers/db.ts';

const TZ = 'America/New_York';
const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });

describe('the slot a delivery owes', () => {
  it('month-end: the month that ended, as of its last day, in its quarter, for a week after', () => {
    // 2026-12-01 04:30 UTC is still November 30 in New York: nothing has ended since October's week passed.
    expect(deliverySlot('month-end', calendar, TZ, new Date('2026-12-01T04:30:00Z'))).toBeNull();
    expect(deliverySlot('month-end', calendar, TZ, new Date('2026-12-01T11:30:00Z'))).toEqual({
      slot: 'FY2026-M11',
      period: expect.objectContaining({ id: 'FY2026-Q4' }),
      asOf: '2026-11-30',
    });
    expect(deliverySlot('month-end', calendar, TZ, new Date('2026-12-07T16:00:00Z'))?.slot).toBe('FY2026-M11');
    expect(deliverySlot('month-end', calendar, TZ, new Date('2026-12-08T16:00:00Z'))).toBeNull();
  });

  it('quarter-end: the quarter that ended, as of its last day', () => {
    expect(deliverySlot('quarter-end', calendar, TZ, new Date('2027-01-02T16:00:00Z'))).toEqual({
      slot: 'FY2026-Q4',
      period: expect.objectContaining({ id: 'FY2026-Q4', end: '2026-12-31' }),
      asOf: '2026-12-31',
    });
    expect(deliverySlot('quarter-end', calendar, TZ, new Date('2026-12-15T16:00:00Z'))).toBeNull();
  });

  it("a cron: its latest fire at or before the instant, as a minute in the org's zone, the quarter to that day", () => {
    // Mondays 08:00 in New York: 13:00 UTC in December.
    const at = (iso: string) => deliverySlot('0 8 * * 1', calendar, TZ, new Date(iso));
    expect(at('2026-12-07T13:00:00.000Z')).toEqual({
      slot: '2026-12-07T08:00',
      period: expect.objectContaining({ id: 'FY2026-Q4' }),
      asOf: '2026-12-07',
    });
    expect(at('2026-12-07T12:59:59Z')?.slot).toBe('2026-11-30T08:00');
    expect(at('2026-12-13T23:00:00Z')?.slot).toBe('2026-12-07T08:00');
  });

  it('file names from team names', () => {
    expect(fileSlug('West Enterprise')).toBe('west-enterprise');
    expect(fileSlug('  Zürich / DACH ')).toBe('zurich-dach');
    expect(fileSlug('***')).toBe('team');
  });
});

describe('the reports.deliveries config', () => {
  const base = { calendar: { timezone: TZ }, web: { publicUrl: 'https://qt.example.com' } };
  it('takes month-end, quarter-end or a cron, a folder and/or a webhook, and defaults to every report', () => {
    const c = validateConfig({ ...base, reports: { deliveries: [{ id: 'weekly', when: '0 8 * * 1', folder: '/x' }] } });
    expect(c.reports.deliveries[0]).toEqual({
      id: 'weekly',
      when: '0 8 * * 1',
      folder: '/x',
      what: ['org', 'teams', 'leaderboard'],
    });
  });

  it('names what is wrong and where', () => {
    const bad =
      (d: unknown, extra: Record<string, unknown> = base) =>
      () =>
        validateConfig({ ...extra, reports: { deliveries: [d] } });
    expect(bad({ id: 'a', when: 'monthly', folder: '/x' })).toThrow(/reports\.deliveries\[0\]\.when.*month-end/s);
    expect(bad({ id: 'a', when: 'month-end' })).toThrow(/a folder, a webhook or both/);
    expect(bad({ id: 'a', when: 'month-end', folder: '/x', what: ['pipeline'] })).toThrow(
      /reports\.deliveries\[0\]\.what/,
    );
    expect(bad({ id: 'A b', when: 'month-end', folder: '/x' })).toThrow(/reports\.deliveries\[0\]\.id/);
    expect(
      bad({ id: 'a', when: 'month-end', webhook: 'https://hooks.example.com/x' }, { calendar: { timezone: TZ } }),
    ).toThrow(/reports\.deliveries\[0\]\.webhook.*web\.publicUrl/s);
    expect(() =>
      validateConfig({
        ...base,
        reports: {
          deliveries: [
            { id: 'a', when: 'month-end', folder: '/x' },
            { id: 'a', when: 'quarter-end', folder: '/y' },
          ],
        },
      }),
    ).toThrow(/reports\.deliveries\[1\]\.id.*already used/s);
  });

  it('gives each delivery a job scheduler: its cron, or the daily check for month-end and quarter-end', () => {
    const c = validateConfig({
      ...base,
      reports: {
        deliveries: [
          { id: 'monthly', when: 'month-end', folder: '/x' },
          { id: 'weekly', when: '0 8 * * 1', folder: '/x' },
        ],
      },
    });
    const ours = desiredSchedulers(c).filter((s) => s.name === 'deliver-reports');
    expect(ours).toEqual([
      {
        id: 'deliver-reports:monthly',
        name: 'deliver-reports',
        data: { v: 1, deliveryId: 'monthly' },
        pattern: DELIVERY_CHECK_CRON,
        tz: TZ,
      },
      {
        id: 'deliver-reports:weekly',
        name: 'deliver-reports',
        data: { v: 1, deliveryId: 'weekly' },
        pattern: '0 8 * * 1',
        tz: TZ,
      },
    ]);
  });
});

describe('the deliver-reports job on the golden warehouse', () => {
  const PUBLIC = 'https://qt.example.com';
  // 16:00 UTC on July 1 is July 1 in New York: FY2026-Q2 ended the day before.
  const AT = new Date('2026-07-01T16:00:00Z');
  let t: TestDatabase;
  let folder: string;
  let server: Server;
  let hookUrl: string;
  /** What the webhook does with the next request: answer with a status, or drop the connection unanswered. */
  let next: number | 'drop' = 200;
  const received: { status: number | 'drop'; body: string }[] = [];

  beforeAll(async () => {
    t = await goldenWarehouse();
    folder = await mkdtemp(join(tmpdir(), 'qt-deliveries-'));
    server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        const status = next;
        next = 200;
        received.push({ status, body });
        if (status === 'drop') req.socket.destroy();
        else res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'no');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  }, 60_000);
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await t.drop();
  });

  const configFor = (delivery: Record<string, unknown>) =>
    validateConfig({
      calendar: { timezone: TZ },
      forecast: { trials: 200 },
      web: { publicUrl: PUBLIC },
      reports: { deliveries: [delivery] },
    });
  const job = { jobId: 'test', attempt: 1, log: silentLogger, enqueue: async () => undefined };
  /** A new pipeline each time: a restarted process. */
  const deliver = (config: ReturnType<typeof configFor>, id: string, at = AT) =>
    createPipeline({ db: t.db, config, log: silentLogger, now: () => at }).handlers['deliver-reports'](
      { v: 1, deliveryId: id },
      job,
    );

  it('writes every report as HTML and Markdown and posts one message linking to them; a restart sends nothing more', async () => {
    const config = configFor({ id: 'quarterly', when: 'quarter-end', folder, webhook: hookUrl });
    const outcome = await deliver(config, 'quarterly');

    const dir = join(folder, 'quarterly', 'FY2026-Q2');
    const engine = new MetricsEngine({ db: t.db, config });
    const org = (await buildReport(t.db, engine, { kind: 'org', period: 'FY2026-Q2', asOf: '2026-06-30' })) as {
      totals: { actual: string; quota: string };
      teams: { subject: { name: string } }[];
    };
    const teams = org.teams.map((x) => `team-${fileSlug(x.subject.name)}`).sort();
    expect(teams.length).toBeGreaterThan(1);
    expect(outcome).toMatchObject({
      status: 'delivered',
      slot: 'FY2026-Q2',
      files: 2 * (2 + teams.length),
      webhookStatus: 200,
    });
    expect((await readdir(dir)).sort()).toEqual(
      ['org', 'leaderboard', ...teams].flatMap((n) => [`${n}.html`, `${n}.md`]).sort(),
    );
    // The org's quarter as of its last day, in both formats, with the figures `report org` gives for that day.
    const money = (v: string) => Number(v).toLocaleString('en-US', { minimumFractionDigits: 2 });
    const md = await readFile(join(dir, 'org.md'), 'utf8');
    const html = await readFile(join(dir, 'org.html'), 'utf8');
    for (const text of [md, html]) {
      expect(text).toContain('FY2026-Q2');
      expect(text).toContain(money(org.totals.actual));
    }
    expect(await readFile(join(dir, `${teams[0]}.html`), 'utf8')).toMatch(/<html/i);

    expect(received).toHaveLength(1);
    const message = JSON.parse(received[0]?.body ?? '{}') as { text: string; blocks: unknown[] };
    expect(message.text).toContain('Quota report FY2026-Q2 as of 2026-06-30 (quarterly)');
    expect(message.text).toContain(`<${PUBLIC}/deliveries/quarterly/FY2026-Q2/org.html|Org summary>`);
    expect(message.text).toContain(`<${PUBLIC}/deliveries/quarterly/FY2026-Q2/leaderboard.html|Leaderboard>`);
    expect(message.blocks.length).toBeGreaterThan(1);

    // The next day's check, a restarted process: the slot is done.
    expect(await deliver(config, 'quarterly', new Date('2026-07-02T16:00:00Z'))).toMatchObject({
      status: 'already-delivered',
      slot: 'FY2026-Q2',
    });
    expect(received).toHaveLength(1);
    // A week later nothing is owed at all.
    expect(await deliver(config, 'quarterly', new Date('2026-07-09T16:00:00Z'))).toEqual({ status: 'not-due' });
  }, 120_000);

  it('a refusal is sent again on the retry; a call that got no answer never is', async () => {
    received.length = 0;
    const config = configFor({ id: 'monthly', when: 'month-end', webhook: hookUrl, what: ['org'] });
    next = 503;
    const refused = await deliver(config, 'monthly').catch((e: unknown) => e);
    expect(isAppError(refused, 'DELIVERY_WEBHOOK_FAILED')).toBe(true);
    expect(String(refused)).toMatch(/answered 503; it will be tried again/);
    expect(await deliver(config, 'monthly')).toMatchObject({ status: 'delivered', slot: 'FY2026-M6', files: 2 });
    expect(received.map((r) => r.status)).toEqual([503, 200]);

    // August's check: the call's connection drops before any answer.
    next = 'drop';
    const at = new Date('2026-08-01T16:00:00Z');
    const dropped = await deliver(config, 'monthly', at).catch((e: unknown) => e);
    expect(isAppError(dropped, 'DELIVERY_WEBHOOK_FAILED')).toBe(true);
    expect(String(dropped)).toMatch(/did not answer.*not sent again/);
    expect(await deliver(config, 'monthly', at)).toMatchObject({ status: 'uncertain', slot: 'FY2026-M7' });
    expect(received.map((r) => r.status)).toEqual([503, 200, 'drop']);
  }, 120_000);

  it('the link opens the stored file for whom the report API lets in', async () => {
    const config = configFor({ id: 'quarterly', when: 'quarter-end', folder, webhook: hookUrl });
    // Delivered here if no test before this one did (run alone); else already delivered, and nothing is sent again.
    expect(['delivered', 'already-delivered']).toContain(
      ((await deliver(config, 'quarterly')) as { status: string }).status,
    );
    const web = createWebApp({ db: t.db, config });
    const bearer = async (o: Parameters<typeof createApiToken>[1]) => ({
      authorization: `Bearer ${(await createApiToken(t.db, o)).token}`,
    });
    const admin = await bearer({ role: 'admin' });
    const dana = await bearer({ role: 'manager', subject: 'dana.manager@example.com' });
    const sarah = await bearer({ role: 'rep', subject: 'sarah.chen@example.com' });
    const get = (name: string, headers: Record<string, string> = {}) =>
      web.app.request(`/deliveries/quarterly/FY2026-Q2/${name}`, { headers });

    const stored = await readFile(join(folder, 'quarterly', 'FY2026-Q2', 'org.html'), 'utf8');
    const res = await get('org.html', admin);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toBe(stored);
    expect((await get('org.html')).status).toBe(401);
    // The org report is for admins; Dana manages the region West and its teams; a rep token sees no delivery.
    expect((await get('org.html', dana)).status).toBe(403);
    const team = await get('team-west-enterprise.md', dana);
    expect(team.status).toBe(200);
    expect(team.headers.get('x-delivery-copy')).toBe('as-sent');
    expect(await team.text()).toBe(
      await readFile(join(folder, 'quarterly', 'FY2026-Q2', 'team-west-enterprise.md'), 'utf8'),
    );
    expect((await get('team-west-enterprise.md', sarah)).status).toBe(403);
    expect((await get('org.html', sarah)).status).toBe(403);
    // The leaderboard is every token's, as over the API: a rep sees it anew from their part of it (names and ranks
    // of the others), an admin as it was sent.
    const board = await get('leaderboard.html', sarah);
    expect(board.status).toBe(200);
    expect(board.headers.get('x-delivery-copy')).toBe('scoped');
    const boardText = await board.text();
    expect(boardText).toContain('Sarah Chen');
    expect(boardText).not.toBe(await readFile(join(folder, 'quarterly', 'FY2026-Q2', 'leaderboard.html'), 'utf8'));
    expect((await get('leaderboard.html', admin)).headers.get('x-delivery-copy')).toBe('as-sent');
    expect((await get('nothing.html', admin)).status).toBe(404);
  }, 120_000);
});
