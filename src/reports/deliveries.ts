/**
 * Scheduled report deliveries (`reports.deliveries`): the org summary, each team's dashboard and the leaderboard,
 * rendered as HTML and Markdown, written to a folder and/or announced to a Slack-compatible webhook with a link to
 * the HTML, which the web server serves from the stored copy (`/deliveries/...`).
 *
 * Each delivery has slots: a fiscal month (`month-end`: the quarter to date as of the month's last day), a fiscal
 * quarter (`quarter-end`: the ended quarter as of its last day) or a cron fire (the current quarter as of that
 * day). A slot is delivered at most once, across restarts and workers: its row is claimed first, and the webhook
 * call is marked as started before it is made, so a process that dies mid-call never sends the message twice (the
 * row stays `sending`, and the operator is told the message may not have arrived). Files are written again until
 * the slot is done: writing the same file twice is harmless.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CronExpressionParser } from 'cron-parser';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { FiscalCalendar, FiscalPeriod } from '../config/calendar.ts';
import type { Config, DeliveryConfig } from '../config/schema.ts';
import type { Database } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import type { JsonObject } from '../metrics/document.ts';
import type { MetricsEngine } from '../metrics/engine/engine.ts';
import { liveUnitNames } from '../metrics/engine/subjects.ts';
import { dateInZone, diffDays, type PlainDate } from '../util/date.ts';
import type { Logger } from '../util/log.ts';
import { renderReport } from './render.ts';
import { buildReportFrom, type ReportRequest, resolveRequest } from './report.ts';

/** A month-end or quarter-end slot missed for longer than this (the service was down) is not sent late. */
export const DELIVERY_CATCH_UP_DAYS = 7;

/** One delivery of one delivery config: which reports, for which period, as of which day. */
export interface DeliverySlot {
  /** `FY2026-M11`, `FY2026-Q4`, or the cron fire as a local minute, `2026-12-07T08:00`. */
  slot: string;
  period: FiscalPeriod;
  asOf: PlainDate;
}

/**
 * The slot a delivery owes at instant `at`: the last ended fiscal month or quarter (if it ended at most
 * DELIVERY_CATCH_UP_DAYS ago), or the latest cron fire at or before `at`. Null when nothing is owed.
 */
export function deliverySlot(when: string, calendar: FiscalCalendar, timezone: string, at: Date): DeliverySlot | null {
  if (when === 'month-end' || when === 'quarter-end') {
    const kind = when === 'month-end' ? 'month' : 'quarter';
    const today = dateInZone(at.toISOString(), timezone);
    const ended = calendar.previous(calendar.periodContaining(today, kind));
    if (diffDays(ended.end, today) > DELIVERY_CATCH_UP_DAYS) return null;
    return { slot: ended.id, period: calendar.periodContaining(ended.end, 'quarter'), asOf: ended.end };
  }
  // A second on: a job that runs on its fire's very millisecond still counts that fire, not the one before.
  const fire = CronExpressionParser.parse(when, { currentDate: new Date(at.getTime() + 1000), tz: timezone })
    .prev()
    .toDate();
  const local = localMinute(fire, timezone);
  const asOf = local.slice(0, 10);
  return { slot: local, period: calendar.periodContaining(asOf, 'quarter'), asOf };
}

function localMinute(at: Date, timezone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', {
      timeZone: timezone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

/** A file name from a team name: lowercase letters and digits, dashes between. */
export function fileSlug(name: string): string {
  return (
    name
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '') || 'team'
  );
}

export interface DeliveryFile {
  name: string;
  kind: 'org' | 'team' | 'leaderboard';
  team: string | null;
  contentType: string;
  body: string;
  /** What the file shows, for the message: "Org summary", "Team West", "Leaderboard". */
  title: string;
}

/** The reports of a slot, each as HTML and Markdown, from one model loaded for the slot's date and periods. */
export async function renderDeliveryFiles(
  db: Kysely<Database>,
  engine: MetricsEngine,
  delivery: DeliveryConfig,
  slot: DeliverySlot,
): Promise<{ files: DeliveryFile[]; org: JsonObject | null }> {
  const base: ReportRequest = { kind: 'org', period: slot.period.id, asOf: slot.asOf };
  const resolved = resolveRequest(engine, base);
  const model = await engine.loadModel(resolved.asOf, [...resolved.history, resolved.period]);
  const files: DeliveryFile[] = [];
  const add = (
    name: string,
    title: string,
    kind: DeliveryFile['kind'],
    doc: JsonObject,
    team: string | null = null,
  ) => {
    for (const [ext, format, contentType] of [
      ['html', 'html', 'text/html; charset=utf-8'],
      ['md', 'md', 'text/markdown; charset=utf-8'],
    ] as const)
      files.push({ name: `${name}.${ext}`, kind, team, contentType, body: renderReport(format, kind, doc), title });
  };
  let org: JsonObject | null = null;
  if (delivery.what.includes('org')) {
    org = await buildReportFrom(db, model, resolved, base);
    add('org', 'Org summary', 'org', org);
  }
  if (delivery.what.includes('teams')) {
    const used = new Set<string>();
    for (const team of liveUnitNames(model, 'team')) {
      let name = `team-${fileSlug(team)}`;
      for (let i = 2; used.has(name); i++) name = `team-${fileSlug(team)}-${i}`;
      used.add(name);
      add(
        name,
        `Team ${team}`,
        'team',
        await buildReportFrom(db, model, resolved, { ...base, kind: 'team', team }),
        team,
      );
    }
  }
  if (delivery.what.includes('leaderboard'))
    add(
      'leaderboard',
      'Leaderboard',
      'leaderboard',
      await buildReportFrom(db, model, resolved, { ...base, kind: 'leaderboard' }),
    );
  return { files, org };
}

/** Where the web server serves a delivered file. */
export function deliveryFileUrl(publicUrl: string, deliveryId: string, slot: string, name: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/deliveries/${encodeURIComponent(deliveryId)}/${encodeURIComponent(slot)}/${encodeURIComponent(name)}`;
}

function percent(ratio: unknown): string | null {
  return typeof ratio === 'string' && ratio !== '' ? `${(Number(ratio) * 100).toFixed(1)}%` : null;
}

/**
 * The Slack-compatible message of a delivered slot: a `text` fallback and `blocks` with the org's standing and a
 * link to each HTML file.
 */
export function deliveryMessage(
  delivery: DeliveryConfig,
  slot: DeliverySlot,
  files: readonly DeliveryFile[],
  org: JsonObject | null,
  publicUrl: string,
): { text: string; blocks: unknown[] } {
  const title = `Quota report ${slot.period.id} as of ${slot.asOf} (${delivery.id})`;
  const totals = (org?.totals ?? null) as Record<string, unknown> | null;
  const standing =
    totals && typeof totals.actual === 'string'
      ? `Org: ${totals.actual} of ${typeof totals.quota === 'string' ? totals.quota : 'no quota'}${
          percent(totals.attainment) ? ` (${percent(totals.attainment)} of quota)` : ''
        }${percent(totals.projectedAttainment) ? `, projected ${percent(totals.projectedAttainment)}` : ''}.`
      : null;
  const links = files
    .filter((f) => f.name.endsWith('.html'))
    .map((f) => `<${deliveryFileUrl(publicUrl, delivery.id, slot.slot, f.name)}|${f.title}>`);
  const text = [title, standing, links.join(' · ')].filter((x) => x).join('\n');
  return {
    text,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: title } },
      ...(standing ? [{ type: 'section', text: { type: 'mrkdwn', text: standing } }] : []),
      { type: 'section', text: { type: 'mrkdwn', text: links.join('\n') } },
    ],
  };
}

export type DeliveryOutcome =
  | { status: 'not-due' }
  | { status: 'already-delivered'; slot: string; state: string }
  | { status: 'uncertain'; slot: string; message: string }
  | { status: 'delivered'; slot: string; files: number; folder: string | null; webhookStatus: number | null };

export interface DeliveryDeps {
  db: Kysely<Database>;
  engine: MetricsEngine;
  config: Config;
  log: Logger;
  /** The webhook's transport (tests and the CLI use the global fetch). */
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

async function writeFiles(folder: string, deliveryId: string, slot: string, files: readonly DeliveryFile[]) {
  const dir = resolve(folder, deliveryId, slot.replace(/:/g, '-'));
  await mkdir(dir, { recursive: true });
  for (const f of files) {
    // A reader never sees half a file: write beside it, then rename over it.
    const tmp = join(dir, `.${f.name}.tmp`);
    await writeFile(tmp, f.body);
    await rename(tmp, join(dir, f.name));
  }
  return dir;
}

/** Runs one delivery at instant `at`: renders and delivers the slot it owes, unless it was delivered already. */
export async function runDelivery(deps: DeliveryDeps, deliveryId: string, at: Date): Promise<DeliveryOutcome> {
  const { db, config, log } = deps;
  const delivery = config.reports.deliveries.find((d) => d.id === deliveryId);
  if (!delivery)
    throw new AppError('DELIVERY_UNKNOWN', `no delivery "${deliveryId}" in reports.deliveries`, {
      where: 'reports.deliveries',
    });
  const calendar = deps.engine.settings.calendar;
  const slot = deliverySlot(delivery.when, calendar, config.calendar.timezone, at);
  if (!slot) return { status: 'not-due' };
  await db
    .insertInto('report_deliveries')
    .values({
      delivery_id: delivery.id,
      slot: slot.slot,
      period_id: slot.period.id,
      as_of: slot.asOf,
      state: 'claimed',
    })
    .onConflict((oc) => oc.columns(['delivery_id', 'slot']).doNothing())
    .execute();
  const row = await db
    .selectFrom('report_deliveries')
    .select(['state'])
    .where('delivery_id', '=', delivery.id)
    .where('slot', '=', slot.slot)
    .executeTakeFirstOrThrow();
  if (row.state === 'written' || row.state === 'sent')
    return { status: 'already-delivered', slot: slot.slot, state: row.state };
  if (row.state === 'sending') return uncertain(delivery.id, slot.slot, log);

  const { files, org } = await renderDeliveryFiles(db, deps.engine, delivery, slot);
  await db.transaction().execute(async (tx) => {
    await tx
      .deleteFrom('report_delivery_files')
      .where('delivery_id', '=', delivery.id)
      .where('slot', '=', slot.slot)
      .execute();
    if (files.length > 0)
      await tx
        .insertInto('report_delivery_files')
        .values(
          files.map((f) => ({
            delivery_id: delivery.id,
            slot: slot.slot,
            name: f.name,
            report_kind: f.kind,
            team: f.team,
            content_type: f.contentType,
            body: f.body,
          })),
        )
        .execute();
  });
  const folder = delivery.folder ? await writeFiles(delivery.folder, delivery.id, slot.slot, files) : null;

  let webhookStatus: number | null = null;
  if (delivery.webhook !== undefined) {
    // Taken from `claimed` to `sending` by one worker only, and committed before the call: from here the message
    // counts as sent, whatever happens to this process.
    const taken = await db
      .updateTable('report_deliveries')
      .set({ state: 'sending' })
      .where('delivery_id', '=', delivery.id)
      .where('slot', '=', slot.slot)
      .where('state', '=', 'claimed')
      .executeTakeFirst();
    if (Number(taken.numUpdatedRows) === 0) {
      const now = await db
        .selectFrom('report_deliveries')
        .select(['state'])
        .where('delivery_id', '=', delivery.id)
        .where('slot', '=', slot.slot)
        .executeTakeFirstOrThrow();
      return now.state === 'sending'
        ? uncertain(delivery.id, slot.slot, log)
        : { status: 'already-delivered', slot: slot.slot, state: now.state };
    }
    const publicUrl = config.web.publicUrl as string;
    const body = JSON.stringify(deliveryMessage(delivery, slot, files, org, publicUrl));
    let res: Response;
    try {
      res = await (deps.fetch ?? fetch)(delivery.webhook, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: deps.signal ?? AbortSignal.timeout(30_000),
      });
    } catch (e) {
      // No answer: the message may have arrived. It stays `sending` and is never sent again.
      const message = e instanceof Error ? e.message : String(e);
      await markError(db, delivery.id, slot.slot, `webhook call unanswered: ${message}`);
      throw new AppError(
        'DELIVERY_WEBHOOK_FAILED',
        `delivery ${delivery.id} ${slot.slot}: the webhook did not answer (${message}); it is not sent again, as the message may have arrived`,
        { where: `reports.deliveries.${delivery.id}.webhook`, cause: e },
      );
    }
    webhookStatus = res.status;
    await res.body?.cancel().catch(() => undefined);
    if (!res.ok) {
      // A refusal is an answer: nothing was posted, so the slot goes back to `claimed` and the job's retry sends it.
      await db
        .updateTable('report_deliveries')
        .set({ state: 'claimed', webhook_status: res.status, last_error: `webhook answered ${res.status}` })
        .where('delivery_id', '=', delivery.id)
        .where('slot', '=', slot.slot)
        .execute();
      throw new AppError(
        'DELIVERY_WEBHOOK_FAILED',
        `delivery ${delivery.id} ${slot.slot}: the webhook answered ${res.status}; it will be tried again`,
        { where: `reports.deliveries.${delivery.id}.webhook`, retryable: true },
      );
    }
  }
  await db
    .updateTable('report_deliveries')
    .set({
      state: delivery.webhook ? 'sent' : 'written',
      webhook_status: webhookStatus,
      finished_at: sql`now()`, // wall-clock: when the delivery finished, for the operator
      last_error: null,
    })
    .where('delivery_id', '=', delivery.id)
    .where('slot', '=', slot.slot)
    .execute();
  log.info(
    { delivery: delivery.id, slot: slot.slot, files: files.length, folder, webhookStatus },
    `delivered ${delivery.id} for ${slot.slot}: ${files.length} files${folder ? ` in ${folder}` : ''}${webhookStatus ? `, webhook ${webhookStatus}` : ''}`,
  );
  return { status: 'delivered', slot: slot.slot, files: files.length, folder, webhookStatus };
}

async function markError(db: Kysely<Database>, deliveryId: string, slot: string, message: string) {
  await db
    .updateTable('report_deliveries')
    .set({ last_error: message })
    .where('delivery_id', '=', deliveryId)
    .where('slot', '=', slot)
    .execute();
}

function uncertain(deliveryId: string, slot: string, log: Logger): DeliveryOutcome {
  const message = `delivery ${deliveryId} ${slot}: a webhook call started earlier never finished; it is not sent again (at most once), so check the channel`;
  log.warn({ delivery: deliveryId, slot }, message);
  return { status: 'uncertain', slot, message };
}

/** A delivered file with what it shows and for when, for the web server; null when there is none. */
export async function deliveryFile(
  db: Kysely<Database>,
  deliveryId: string,
  slot: string,
  name: string,
): Promise<{
  contentType: string;
  body: string;
  kind: DeliveryFile['kind'];
  team: string | null;
  periodId: string;
  asOf: PlainDate;
} | null> {
  const row = await db
    .selectFrom('report_delivery_files as f')
    .innerJoin('report_deliveries as d', (j) =>
      j.onRef('d.delivery_id', '=', 'f.delivery_id').onRef('d.slot', '=', 'f.slot'),
    )
    .select(['f.content_type', 'f.body', 'f.report_kind', 'f.team', 'd.period_id', 'd.as_of'])
    .where('f.delivery_id', '=', deliveryId)
    .where('f.slot', '=', slot)
    .where('f.name', '=', name)
    .executeTakeFirst();
  return row
    ? {
        contentType: row.content_type,
        body: row.body,
        kind: row.report_kind,
        team: row.team,
        periodId: row.period_id,
        asOf: row.as_of,
      }
    : null;
}

/** A month-end or quarter-end delivery is checked daily at this time (org's zone), after the daily recompute. */
export const DELIVERY_CHECK_CRON = '30 6 * * *';
