/**
 * The readable report: the seed's sections (summary, pacing, projection, pipeline, activity, ranking, history,
 * alerts), rendered from the JSON document itself so that every number the text prints is the JSON's number:
 * money with thousands separators, ratios as percents (the JSON ratio times 100, two places), coverage as a
 * multiple (the JSON ratio, two places).
 */
import { groupThousands } from '../util/money.ts';
import type { Json, JsonObject } from './document.ts';

type Obj = Record<string, Json | undefined>;

function obj(v: Json | undefined): Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {};
}

function str(v: Json | undefined): string | null {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null;
}

/** `522000.00` as `522,000.00`; null as `n/a (reason)`. */
export function money(v: Json | undefined, reason?: Json): string {
  const s = str(v);
  if (s === null) return na(reason);
  return groupThousands(s);
}

/** A four-place ratio as a percent with two places, exactly (`0.8700` is `87.00%`). */
export function pct(v: Json | undefined, reason?: Json): string {
  const s = str(v);
  if (s === null) return na(reason);
  const neg = s.startsWith('-');
  const [int = '0', frac = ''] = (neg ? s.slice(1) : s).split('.');
  const digits = `${int}${frac.padEnd(4, '0')}`.replace(/^0+(?=\d{3})/, '');
  const whole = digits.slice(0, -2) || '0';
  return `${neg ? '-' : ''}${whole.replace(/^0+(?=\d)/, '')}.${digits.slice(-2)}%`;
}

function times(v: Json | undefined, reason?: Json): string {
  const s = str(v);
  return s === null ? na(reason) : `${s}x`;
}

function na(reason: Json | undefined): string {
  return typeof reason === 'string' ? `n/a (${reason.replace(/_/g, ' ')})` : 'n/a';
}

function signed(text: string, raw: Json | undefined): string {
  const s = str(raw);
  return s !== null && !s.startsWith('-') ? `+${text}` : text;
}

function row(label: string, value: string): string {
  return `  ${label.padEnd(26)}${value}`;
}

/** The sections of one subject's document. */
export function subjectText(d: JsonObject, heading = true): string[] {
  const o = d as Obj;
  const subject = obj(o.subject);
  const period = obj(o.period);
  const p = obj(o.pipeline);
  const a = obj(o.activities);
  const counts = obj(a.counts);
  const f = obj(o.forecast);
  const c = obj(o.commission);
  const lines: string[] = [];
  if (heading) {
    lines.push(
      `${str(subject.name)} (${str(subject.type)}) - ${str(period.id)} as of ${str(o.asOf)}, in ${str(o.currency)}`,
    );
    const where = [
      subject.team && `team ${str(subject.team)}`,
      subject.region && `region ${str(subject.region)}`,
      subject.manager && `manager ${str(subject.manager)}`,
    ].filter(Boolean);
    if (where.length > 0) lines.push(where.join(', '));
  }
  lines.push('', 'SUMMARY');
  lines.push(row('Quota', money(o.quota, o.quotaReason)));
  lines.push(row('Actual to date', `${money(o.actual)} (${str(o.closedWonDeals) ?? '0'} won deals)`));
  lines.push(row('Attainment', pct(o.attainment, o.attainmentReason)));
  lines.push(row('Remaining to goal', money(o.remaining, o.remainingReason)));
  lines.push(row('Status', `${str(o.status)?.replace(/_/g, ' ') ?? na(o.statusReason)}`));
  lines.push('', 'PACING');
  lines.push(
    row(
      'Days elapsed',
      `${str(period.daysElapsed)} of ${str(period.daysTotal)} (${str(period.daysRemaining)} remaining)`,
    ),
  );
  lines.push(row('Expected to date', money(o.expectedToDate, o.expectedToDateReason)));
  lines.push(
    row(
      'Pace variance',
      o.paceVariance == null
        ? na(o.paceVarianceReason)
        : `${signed(money(o.paceVariance), o.paceVariance)} (${signed(pct(o.paceVariancePct, o.paceVariancePctReason), o.paceVariancePct)}), ${str(o.paceStatus)}`,
    ),
  );
  lines.push(
    row(
      'Required run rate',
      o.requiredDailyRunRate == null
        ? na(o.requiredDailyRunRateReason)
        : `${money(o.requiredDailyRunRate)} a day, ${money(o.requiredWeeklyRunRate)} a week`,
    ),
  );
  lines.push('', 'PROJECTION');
  lines.push(row('Current run rate', `${money(o.currentRunRate)} a day (last ${str(o.runRateWindowDays)} days)`));
  lines.push(row('Projected total', money(o.projectedTotal)));
  lines.push(row('Projected attainment', pct(o.projectedAttainment, o.projectedAttainmentReason)));
  lines.push(row('Forecast P10 / P50 / P90', `${money(f.p10)} / ${money(f.p50)} / ${money(f.p90)}`));
  lines.push(row('Chance to hit quota', pct(f.probabilityToHitQuota, f.probabilityToHitQuotaReason)));
  lines.push(row('Commission at actual', money(c.atActual, c.atActualReason)));
  lines.push(row('Commission at projected', money(c.atProjected, c.atProjectedReason)));
  lines.push(
    row(
      'Next tier',
      c.nextTier == null ? na(c.nextTierReason) : `${pct(c.nextTier)} of quota, ${money(c.bookingsToNextTier)} away`,
    ),
  );
  lines.push('', 'PIPELINE');
  lines.push(row('Open (in period)', `${money(p.open)} in ${str(p.openDeals)} deals`));
  lines.push(row('Weighted', money(p.weighted)));
  lines.push(
    row('Coverage', p.coverage == null ? na(p.coverageReason) : `${times(p.coverage)} (${str(p.coverageBand)})`),
  );
  lines.push(row('Overdue (not pipeline)', `${money(p.overdue)} in ${str(p.overdueDeals)} deals`));
  lines.push(row('Win rate', pct(o.winRate, o.winRateReason)));
  lines.push(row('Average deal size', money(o.avgDealSize, o.avgDealSizeReason)));
  lines.push(
    row('Sales cycle', o.salesCycleDays == null ? na(o.salesCycleDaysReason) : `${str(o.salesCycleDays)} days`),
  );
  lines.push(row('Velocity', o.velocity == null ? na(o.velocityReason) : `${money(o.velocity)} a day`));
  lines.push('', `ACTIVITY (${str(a.window)})`);
  lines.push(row('Calls / meetings', `${str(counts.call)} / ${str(counts.meeting)}`));
  lines.push(row('Emails / tasks', `${str(counts.email)} / ${str(counts.task)}`));
  lines.push(row('Activity score', a.score == null ? na(a.scoreReason) : (str(a.score) ?? '')));
  const rank = obj(o.rank);
  if (Object.keys(rank).length > 0) {
    lines.push('', 'RANKING');
    for (const scope of ['team', 'region', 'org']) {
      const r = obj(rank[scope]);
      if (Object.keys(r).length === 0) continue;
      lines.push(
        row(
          `${scope[0]?.toUpperCase()}${scope.slice(1)} rank`,
          r.rank == null ? na(r.rankReason) : `#${str(r.rank)} of ${str(r.of)}`,
        ),
      );
    }
  }
  const history = Array.isArray(o.history) ? o.history : [];
  const withQuota = history.filter((h) => obj(h).quota != null);
  if (withQuota.length > 0) {
    lines.push('', 'HISTORY');
    for (const h of withQuota) {
      const x = obj(h);
      lines.push(
        row(str(x.period) ?? '', `${pct(x.attainment, x.attainmentReason)} (${money(x.actual)} of ${money(x.quota)})`),
      );
    }
  }
  const alerts = Array.isArray(o.alerts) ? o.alerts : [];
  lines.push('', 'ALERTS');
  if (alerts.length === 0) lines.push('  none');
  for (const al of alerts) {
    const x = obj(al);
    lines.push(`  [${str(x.severity)}] ${str(x.rule)}: ${str(x.message)}`);
  }
  const explain = obj(o.explain);
  if (Object.keys(explain).length > 0) {
    lines.push('', 'WORKING');
    for (const [k, e] of Object.entries(explain)) {
      const x = obj(e);
      lines.push(`  ${k} = ${str(x.formula)}`);
      lines.push(`    ${str(x.working)}`);
      for (const s of Array.isArray(x.sums) ? x.sums : []) {
        const sum = obj(s);
        const deals = Array.isArray(sum.deals) ? sum.deals : [];
        lines.push(`    ${str(sum.label)}: ${money(sum.total)}`);
        for (const dl of deals) {
          const dd = obj(dl);
          lines.push(`      ${str(dd.id)} ${str(dd.name)} ${money(dd.amount)} ${str(dd.closeDate)} ${str(dd.stage)}`);
        }
      }
    }
  }
  return lines;
}

function repLine(r: Obj): string {
  const s = obj(r.subject);
  const p = obj(r.pipeline);
  const counts = obj(obj(r.activities).counts);
  return [
    `  ${(str(s.name) ?? '').padEnd(22)}`,
    `${pct(r.attainment, r.attainmentReason).padStart(9)} actual`,
    `${pct(r.projectedAttainment, r.projectedAttainmentReason).padStart(9)} projected`,
    `${(str(r.status)?.replace(/_/g, ' ') ?? 'no quota').padEnd(15)}`,
    `needs ${money(r.remaining, r.remainingReason)}`,
    `coverage ${p.coverage == null ? na(p.coverageReason) : times(p.coverage)}`,
    `calls ${str(counts.call)}, meetings ${str(counts.meeting)}, score ${str(obj(r.activities).score) ?? 'n/a'}`,
  ].join('  ');
}

/** Text of any report document. */
export function reportText(kind: string, d: JsonObject): string {
  const o = d as Obj;
  if (kind === 'rep') return subjectText(d).join('\n');
  if (kind === 'leaderboard') {
    const scope = obj(o.scope);
    const lines = [
      `LEADERBOARD by ${str(o.by)} - ${str(scope.name)}, ${str(obj(o.period).id)} as of ${str(o.asOf)}`,
      '',
    ];
    const unranked = new Map<string, string[]>();
    for (const e of Array.isArray(o.entries) ? o.entries : []) {
      const x = obj(e);
      const name = str(obj(x.subject).name) ?? '';
      // People without a quota (managers, VPs, the integration user) have no place on the board: one line names
      // them, instead of a row of "n/a (no quota)" each.
      if (x.rank == null) {
        const why = typeof x.attainmentReason === 'string' ? x.attainmentReason.replace(/_/g, ' ') : 'no attainment';
        unranked.set(why, [...(unranked.get(why) ?? []), name]);
        continue;
      }
      lines.push(
        `  ${`#${str(x.rank)}`.padEnd(5)}${name.padEnd(22)}${pct(x.attainment, x.attainmentReason).padStart(9)}  ${money(x.actual).padStart(14)} of ${money(x.quota, x.quotaReason).padStart(14)}  projected ${pct(x.projectedAttainment, x.projectedAttainmentReason).padStart(8)}`,
      );
    }
    if (unranked.size > 0) lines.push('');
    for (const [why, names] of unranked) lines.push(`  Not ranked (${why}): ${names.join(', ')}`);
    return lines.join('\n');
  }
  if (kind === 'trends') {
    const lines = [
      `TRENDS - ${str(obj(o.scope).name)} as of ${str(o.asOf)}, in ${str(o.currency)}`,
      '',
      `  ${'Period'.padEnd(12)}${'Quota'.padStart(18)}${'Actual'.padStart(18)}${'Attainment'.padStart(20)}`,
    ];
    for (const p of Array.isArray(o.periods) ? o.periods : []) {
      const x = obj(p);
      // A period before any quota shows a dash: "n/a (no quota)" in two columns said the same thing twice.
      const noQuota = x.quota == null;
      lines.push(
        `  ${(str(x.period) ?? '').padEnd(12)}${(noQuota ? '-' : money(x.quota)).padStart(18)}${money(x.actual).padStart(18)}${(noQuota ? 'no quota' : pct(x.attainment, x.attainmentReason)).padStart(20)}`,
      );
    }
    return lines.join('\n');
  }
  if (kind === 'alerts') {
    const lines = [`ALERTS - ${str(obj(o.period).id)} as of ${str(o.asOf)}`, ''];
    const alerts = Array.isArray(o.alerts) ? o.alerts : [];
    if (alerts.length === 0) lines.push('  none');
    for (const a of alerts) {
      const x = obj(a);
      lines.push(`  [${str(x.severity)}] ${str(x.rule)} ${str(obj(x.subject).name)}: ${str(x.message)}`);
    }
    return lines.join('\n');
  }
  // team, region, org: totals, then teams and reps.
  const totals = obj(o.totals) as JsonObject;
  const lines = subjectText(totals);
  const teams = Array.isArray(o.teams) ? o.teams : [];
  if (teams.length > 0) {
    lines.push('', 'TEAMS');
    for (const t of teams) lines.push(repLine(obj(t)));
  }
  const reps = Array.isArray(o.reps) ? o.reps : [];
  lines.push('', 'REPS');
  for (const r of reps) lines.push(repLine(obj(r)));
  return lines.join('\n');
}
