/**
 * Alert delivery: a CRM task for the rep's manager when an alert opens and one more when it escalates, closed
 * when the alert resolves, at most N new tasks per manager per day. When a manager's alerts outnumber the cap,
 * they compete by severity and then rule priority (`applyTaskCap`), and the ones held back wait for a later day.
 *
 * Exactly-once across crashes: the `alert_tasks` row (with its external key `dedupeKey:severity`) is committed
 * before the CRM call, and the CRM call is an upsert on that key. A worker killed between the two leaves a row
 * without `crm_task_id`, which the next delivery sends again; the CRM finds the task by its key instead of
 * making a second one.
 */
import { type Kysely, sql } from 'kysely';
import type { FiscalCalendar } from '../config/calendar.ts';
import type { AlertTask, TaskSink } from '../connectors/types.ts';
import type { AlertSeverity, Database } from '../db/schema.ts';
import { type RoutingUser, taskRecipient } from '../metrics/engine/task-routing.ts';
import { applyTaskCap, type TaskCandidate } from '../metrics/math/alerts.ts';
import { addDays, type PlainDate } from '../util/date.ts';
import type { Logger } from '../util/log.ts';
import { Dec } from '../util/money.ts';
import { pushTo } from '../util/multimap.ts';

export interface DeliverOptions {
  connectionId: string;
  sink: TaskSink;
  calendar: FiscalCalendar;
  /** Today in the org's time zone: the cap's day and the tasks' due date base. */
  today: PlainDate;
  maxTasksPerManagerPerDay: number;
  log: Logger;
  /** Connections in config order: a person with reps in several gets tasks in the first that knows the manager. */
  connectionOrder?: readonly string[];
  /** Link to the dashboard in task descriptions. */
  publicUrl?: string;
}

export interface DeliverResult {
  created: number;
  /** Sent again after an interrupted delivery, or reopened (found by key: no duplicate). */
  resent: number;
  closed: number;
  /** Left for another day by the per-manager cap. */
  capped: number;
  /** Alerts whose rep has no manager in this CRM. */
  noManager: number;
  failed: number;
}

const RULE_TITLES: Record<string, string> = {
  at_risk_rep: 'At risk',
  pace_deterioration: 'Pace falling',
  activity_drop: 'Activity dropped',
  coverage_gap: 'Pipeline coverage gap',
  conversion_decline: 'Win rate declining',
  velocity_slowdown: 'Sales cycle slowing',
  accelerator_opportunity: 'Near an accelerator',
};

interface RepTarget {
  externalId: string;
  name: string;
  managerExternalId: string;
  managerPersonId: number | null;
}

/** The task text: what fired, the numbers, and why it matters. */
export function taskText(
  alert: { rule: string; severity: string; message: string; value: string | null; period_id: string; status: string },
  repName: string,
  escalation: boolean,
  publicUrl?: string,
): { subject: string; description: string } {
  const title = RULE_TITLES[alert.rule] ?? alert.rule;
  const subject = `${escalation ? 'Escalated: ' : ''}${title}: ${repName} (${alert.period_id})`;
  const lines = [
    `${repName}: ${alert.message}.`,
    `Rule ${alert.rule}, severity ${alert.severity}${escalation ? ', escalated because it has not cleared' : ''}, period ${alert.period_id}.`,
  ];
  if (alert.value !== null) {
    const v = new Dec(alert.value);
    lines.push(
      `Watched value: ${v.abs().lt(10) ? `${v.times(100).toDecimalPlaces(1, Dec.ROUND_HALF_UP).toFixed(1)}%` : v.toFixed(2)}.`,
    );
  }
  lines.push('This task closes by itself when the alert clears.');
  if (publicUrl) lines.push(`Dashboard: ${publicUrl.replace(/\/$/, '')}/`);
  lines.push('Created by quota-tracker.');
  return { subject, description: lines.join('\n') };
}

async function repTargets(
  db: Kysely<Database>,
  connectionId: string,
  subjectIds: readonly string[],
  order: readonly string[],
): Promise<Map<string, RepTarget>> {
  const out = new Map<string, RepTarget>();
  const personIds = subjectIds.filter((s) => s.startsWith('person:')).map((s) => Number(s.slice(7)));
  const direct = subjectIds
    .filter((s) => s.startsWith(`${connectionId}:`))
    .map((s) => s.slice(connectionId.length + 1));
  if (personIds.length === 0 && direct.length === 0) return out;
  // The recipient is the manager the reports name for the rep (metrics/engine/subjects.ts), in the first of the rep's
  // connections where that manager is a user: one rule with `config check --online` (metrics/engine/task-routing.ts).
  const reps = (
    await sql<{
      connection_id: string;
      external_id: string;
      person_id: number | null;
      name: string;
      is_active: boolean;
      manager_external_id: string | null;
      team_manager_person_id: number | null;
      team_from_file: boolean | null;
    }>`
      select r.connection_id, r.external_id, r.person_id, r.name, r.is_active, r.manager_external_id,
        ou.manager_person_id as team_manager_person_id, ou.source = 'file' as team_from_file
      from reps r
      left join memberships ms on ms.person_id = r.person_id and ms.valid_to is null
      left join org_units ou on ou.id = ms.org_unit_id
      where not r.is_deleted and (
        ${personIds.length > 0 ? sql`r.person_id in (${sql.join(personIds)})` : sql`false`}
        or ${direct.length > 0 ? sql`(r.connection_id = ${connectionId} and r.external_id in (${sql.join(direct)}))` : sql`false`}
      )`.execute(db)
  ).rows;
  const teamManagers = [
    ...new Set(reps.flatMap((r) => (r.team_manager_person_id === null ? [] : [r.team_manager_person_id]))),
  ];
  // Row pairs, so the reps key index finds them.
  const named = reps.flatMap((r) =>
    r.manager_external_id === null ? [] : [sql`(${r.connection_id}, ${r.manager_external_id})`],
  );
  const managers = (
    await sql<{
      connection_id: string;
      external_id: string;
      person_id: number | null;
      is_active: boolean;
      is_deleted: boolean;
    }>`
      select m.connection_id, m.external_id, m.person_id, m.is_active, m.is_deleted from reps m
      where ${teamManagers.length > 0 ? sql`m.person_id in (${sql.join(teamManagers)})` : sql`false`}
        or ${named.length > 0 ? sql`(m.connection_id, m.external_id) in (${sql.join(named)})` : sql`false`}`.execute(db)
  ).rows;
  const user = (r: {
    connection_id: string;
    external_id: string;
    person_id: number | null;
    is_active: boolean;
    manager_external_id?: string | null;
  }): RoutingUser<number> => ({
    connectionId: r.connection_id,
    externalId: r.external_id,
    person: r.person_id,
    active: r.is_active,
    managerExternalId: r.manager_external_id ?? null,
  });
  const usersOf = new Map<number, RoutingUser<number>[]>();
  for (const m of managers) if (m.person_id !== null && !m.is_deleted) pushTo(usersOf, m.person_id, user(m));
  const personOf = new Map(managers.map((m) => [`${m.connection_id}:${m.external_id}`, m.person_id]));
  const bySubject = new Map<string, typeof reps>();
  for (const r of reps)
    pushTo(bySubject, r.person_id === null ? `${r.connection_id}:${r.external_id}` : `person:${r.person_id}`, r);
  for (const [subjectId, rows] of bySubject) {
    const team = rows[0] as (typeof rows)[number];
    const to = taskRecipient<number>({
      order,
      repUsers: rows.map(user),
      fileManager: team.team_from_file === true ? team.team_manager_person_id : null,
      hierarchyManager: team.team_from_file === true ? null : team.team_manager_person_id,
      usersOf: (p) => usersOf.get(p) ?? [],
      personOfUser: (c, id) => personOf.get(`${c}:${id}`) ?? null,
    });
    if (to === null) continue;
    const rep = rows.find((r) => r.connection_id === to.connectionId && r.external_id === to.repExternalId);
    // One CRM only: a task another connection delivers is none of this one's.
    out.set(
      subjectId,
      to.connectionId !== connectionId
        ? { externalId: '', name: rep?.name ?? '', managerExternalId: '', managerPersonId: null }
        : {
            externalId: to.repExternalId,
            name: rep?.name ?? '',
            managerExternalId: to.managerExternalId,
            managerPersonId: to.managerPerson,
          },
    );
  }
  return out;
}

/** The rep's largest open deal closing in the rest of the period: where the manager should look first. */
async function mostRelevantDeal(
  db: Kysely<Database>,
  connectionId: string,
  repExternalId: string,
  from: PlainDate,
  to: PlainDate,
): Promise<string | undefined> {
  const row = await db
    .selectFrom('deals')
    .select('external_id')
    .where('connection_id', '=', connectionId)
    .where('owner_external_id', '=', repExternalId)
    .where('is_deleted', '=', false)
    .where('stage_category', '=', 'open')
    .where('close_date', '>=', from)
    .where('close_date', '<=', to)
    .orderBy('amount', (ob) => ob.desc().nullsLast())
    .orderBy('external_id')
    .limit(1)
    .executeTakeFirst();
  return row?.external_id;
}

/**
 * The connection's tasks not closed yet, with their alert's status. Read in two steps, each by an index: the open
 * tasks (few: those of active alerts and those waiting to be closed; `alert_tasks_open_idx`), then their alerts by
 * id. The table keeps every task ever made and `alerts` every alert, so a join planned from the alerts' side would
 * read both whole on every run.
 */
async function openTasks(db: Kysely<Database>, connectionId: string) {
  const tasks = await db
    .selectFrom('alert_tasks')
    .select(['alert_id', 'severity', 'task_external_key', 'crm_task_id'])
    .where('connection_id', '=', connectionId)
    .where('closed_at', 'is', null)
    .execute();
  if (tasks.length === 0) return [];
  const alerts = await db
    .selectFrom('alerts')
    .select(['id', 'status'])
    .where(sql<boolean>`id = any(${[...new Set(tasks.map((t) => String(t.alert_id)))]}::bigint[])`)
    .execute();
  const statusOf = new Map(alerts.map((a) => [String(a.id), a.status]));
  return tasks.flatMap((t) => {
    const status = statusOf.get(String(t.alert_id));
    return status === undefined ? [] : [{ ...t, status }];
  });
}

/** Creates, re-sends and closes the alert tasks of one connection. */
export async function deliverAlertTasks(db: Kysely<Database>, o: DeliverOptions): Promise<DeliverResult> {
  const result: DeliverResult = { created: 0, resent: 0, closed: 0, capped: 0, noManager: 0, failed: 0 };
  const active = await db
    .selectFrom('alerts')
    .selectAll()
    .where('subject_kind', '=', 'rep')
    .where('status', 'in', ['open', 'escalated'])
    .orderBy('opened_at')
    .orderBy('id')
    .execute();
  // The task rows of the active alerts only: the table keeps every task ever made, and closing reads its own rows.
  const existing =
    active.length === 0
      ? []
      : await db
          .selectFrom('alert_tasks')
          .selectAll()
          .where(sql<boolean>`alert_id = any(${active.map((a) => String(a.id))}::bigint[])`)
          .execute();
  const taskOf = new Map(existing.map((t) => [`${t.alert_id}:${t.severity}`, t]));
  const targets = await repTargets(
    db,
    o.connectionId,
    [...new Set(active.map((a) => a.subject_id))],
    o.connectionOrder ?? [o.connectionId],
  );

  // Tasks created today per manager (the cap), counted from the table so every worker agrees.
  const today = await db
    .selectFrom('alert_tasks')
    .select(['assignee_external_id'])
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('connection_id', '=', o.connectionId)
    .where('sent_on', '=', o.today)
    .groupBy('assignee_external_id')
    .execute();
  const usedToday = new Map(today.map((t) => [t.assignee_external_id ?? '', Number(t.n)]));

  type Slot = TaskCandidate & {
    alert: (typeof active)[number];
    rep: RepTarget;
    escalation: boolean;
    isNew: boolean;
  };
  const resend: Slot[] = [];
  const fresh: Slot[] = [];
  for (const alert of active) {
    const rep = targets.get(alert.subject_id);
    if (!rep || rep.managerExternalId === '') {
      if (!rep) result.noManager++;
      continue;
    }
    // The opening task at the alert's severity; an escalation adds one keyed critical.
    const slots: Array<{ severity: AlertSeverity; escalation: boolean }> = [];
    const openSeverity = ((alert.details as { severityAtOpen?: AlertSeverity } | null)?.severityAtOpen ??
      alert.severity) as AlertSeverity;
    slots.push({ severity: openSeverity, escalation: false });
    if (alert.status === 'escalated' && openSeverity !== 'critical')
      slots.push({ severity: 'critical', escalation: true });
    for (const slot of slots) {
      const row = taskOf.get(`${alert.id}:${slot.severity}`);
      const reopened = row?.closed_at != null && alert.opened_at > row.closed_at;
      if (row && row.crm_task_id !== null && !reopened) continue;
      const s: Slot = {
        manager: rep.managerExternalId,
        severity: slot.severity,
        rule: alert.rule,
        openedAt: new Date(alert.opened_at).toISOString(),
        id: alert.id,
        alert,
        rep,
        escalation: slot.escalation,
        isNew: !row,
      };
      (row ? resend : fresh).push(s);
    }
  }
  // New tasks compete for each manager's daily budget by severity, then rule priority (docs/metrics.md): what
  // the cap holds back is recorded on the alert and goes out on a later day's budget.
  const { send, held } = applyTaskCap(fresh, usedToday, o.maxTasksPerManagerPerDay);
  result.capped = held.length;
  const goesOut = addDays(o.today, 1);
  for (const h of held) {
    await db
      .updateTable('alerts')
      .set((eb) => ({
        task_held_on: eb.fn.coalesce('task_held_on', eb.val(o.today)),
        task_goes_out_on: goesOut,
      }))
      .where('id', '=', h.id)
      .execute();
  }
  if (held.length > 0) {
    o.log.info(
      { held: held.map((h) => ({ alert: h.alert.dedupe_key, severity: h.severity, manager: h.manager })) },
      `alert tasks: the daily cap of ${o.maxTasksPerManagerPerDay} per manager held back ${held.length} task(s); they go out from ${goesOut}`,
    );
  }

  const toSend: Array<{ task: AlertTask; isNew: boolean; alertId: number; severity: AlertSeverity }> = [];
  for (const s of [...resend, ...send]) {
    const { alert, rep } = s;
    const key = `${alert.dedupe_key}:${s.severity}`;
    const period = o.calendar.periodById(alert.period_id);
    const what = await mostRelevantDeal(db, o.connectionId, rep.externalId, o.today, period.end);
    const text = taskText(alert, rep.name, s.escalation, o.publicUrl);
    toSend.push({
      alertId: alert.id,
      severity: s.severity,
      isNew: s.isNew,
      task: {
        externalKey: key,
        ownerExternalId: rep.managerExternalId,
        subject: text.subject,
        description: text.description,
        dueDate: addDays(o.today, s.severity === 'critical' ? 1 : 3),
        ...(what ? { relatedToExternalId: what } : {}),
      },
    });
    if (s.isNew) {
      // Committed before the CRM call: a crash after it leaves a row without crm_task_id to send again.
      await db
        .insertInto('alert_tasks')
        .values({
          alert_id: alert.id,
          severity: s.severity,
          connection_id: o.connectionId,
          task_external_key: key,
          assignee_external_id: rep.managerExternalId,
          manager_person_id: rep.managerPersonId,
          sent_on: o.today,
        })
        .onConflict((oc) => oc.doNothing())
        .execute();
      await db
        .updateTable('alerts')
        .set({ task_held_on: null, task_goes_out_on: null })
        .where('id', '=', alert.id)
        .where('task_goes_out_on', 'is not', null)
        .execute();
    }
  }

  if (toSend.length > 0) {
    const results = await o.sink.upsertTasks(toSend.map((t) => t.task));
    const byKey = new Map(results.map((r) => [r.externalKey, r]));
    for (const s of toSend) {
      const r = byKey.get(s.task.externalKey);
      if (r?.ok) {
        if (s.isNew) result.created++;
        else result.resent++;
        await db
          .updateTable('alert_tasks')
          .set({ crm_task_id: r.crmTaskId ?? null, last_error: null, closed_at: null })
          .where('alert_id', '=', s.alertId)
          .where('severity', '=', s.severity)
          .execute();
      } else {
        result.failed++;
        await db
          .updateTable('alert_tasks')
          .set({ last_error: r?.message ?? 'no result from the CRM' })
          .where('alert_id', '=', s.alertId)
          .where('severity', '=', s.severity)
          .execute();
        o.log.warn({ key: s.task.externalKey, err: r?.message }, 'alert task not delivered; retried next time');
      }
    }
  }

  // A task claimed before a crash whose alert has resolved since is resent by nobody: ask the CRM whether the
  // unanswered call made it. Made: it is closed below like any other; never made: nothing is left to close.
  const unconfirmed = (await openTasks(db, o.connectionId)).filter(
    (t) => t.crm_task_id === null && t.status !== 'open' && t.status !== 'escalated',
  );
  if (unconfirmed.length > 0) {
    const found = await o.sink.findTasks(unconfirmed.map((t) => t.task_external_key));
    for (const t of unconfirmed) {
      const id = found.get(t.task_external_key);
      await db
        .updateTable('alert_tasks')
        .set(
          id !== undefined
            ? { crm_task_id: id, last_error: null }
            : {
                closed_at: new Date(), // wall-clock: an audit stamp
                last_error: 'its alert resolved before the task was confirmed, and the CRM has no such task',
              },
        )
        .where('alert_id', '=', t.alert_id)
        .where('severity', '=', t.severity)
        .execute();
    }
    o.log.info(
      { found: found.size, never: unconfirmed.length - found.size },
      `alert tasks: ${unconfirmed.length} claimed before a restart belong to resolved alerts: ${found.size} found in the CRM (closed now), ${unconfirmed.length - found.size} never made`,
    );
  }

  // Close the tasks of resolved alerts (read again: the step above confirmed some).
  const toClose = (await openTasks(db, o.connectionId)).filter(
    (t) => t.crm_task_id !== null && t.status === 'resolved',
  );
  if (toClose.length > 0) {
    const results = await o.sink.closeTasks(
      toClose.map((t) => ({ externalKey: t.task_external_key, crmTaskId: t.crm_task_id as string })),
    );
    const byKey = new Map(results.map((r) => [r.externalKey, r]));
    for (const t of toClose) {
      const r = byKey.get(t.task_external_key);
      if (!r?.ok) {
        result.failed++;
        continue;
      }
      result.closed++;
      await db
        .updateTable('alert_tasks')
        .set({ closed_at: new Date() }) // wall-clock: an audit stamp
        .where('alert_id', '=', t.alert_id)
        .where('severity', '=', t.severity)
        .execute();
    }
  }
  return result;
}
