/**
 * The readable report: the seed's sections (summary, pacing, projection, pipeline, activity, ranking, history,
 * alerts), rendered from the JSON document itself so that every number the text prints is the JSON's number:
 * money with thousands separators, ratios as percents (the JSON ratio times 100, two places), coverage as a
 * multiple (the JSON ratio, two places).
 */
import type { JsonObject } from '../metrics/document.ts';
import { layoutText } from './forecast-layout.ts';
import { list, money, na, type Obj, obj, pct, str, times } from './format.ts';
import {
  breakdownSections,
  dashboardSections,
  figureSections,
  leaderboardMetric,
  memberName,
  reportLayout,
  type SubjectDoc,
  scorecardSections,
  subjectDoc,
  subjectDocs,
  subjectHeading,
  withoutQuota,
  workingSection,
} from './layout.ts';
import { row, sectionLines } from './text-lines.ts';

export { money, pct };

/** The sections of one subject's document. */
export function subjectText(d: SubjectDoc, heading = true, alertLines?: readonly string[]): string[] {
  const o = d;
  const lines: string[] = [];
  if (heading) {
    const { title, context } = subjectHeading(d);
    lines.push(title);
    if (context !== null) lines.push(context);
  }
  for (const section of figureSections(d)) {
    lines.push('', section.heading.toUpperCase());
    for (const block of section.blocks)
      if (block.type === 'figures') for (const [label, value] of block.rows) lines.push(row(label, value));
  }
  for (const section of scorecardSections(d)) lines.push(...sectionLines(section));
  const alerts = o.alerts ?? [];
  lines.push('', 'ALERTS');
  if (alertLines) lines.push(...alertLines);
  else if (alerts.length === 0) lines.push('  none');
  for (const al of alertLines ? [] : alerts) {
    const x = obj(al);
    lines.push(`  [${str(x.severity)}] ${str(x.rule)}: ${str(x.message)}`);
  }
  const working = workingSection(d);
  if (working) lines.push(...sectionLines(working));
  return lines;
}

function repLine(r: SubjectDoc): string {
  const p = r.pipeline;
  const counts = r.activities.counts;
  return [
    `  ${memberName(r).padEnd(22)}`,
    `${pct(r.attainment, r.attainmentReason).padStart(9)} actual`,
    `${pct(r.projectedAttainment, r.projectedAttainmentReason).padStart(9)} projected`,
    `${(r.status?.replace(/_/g, ' ') ?? 'no quota').padEnd(15)}`,
    `needs ${money(r.remaining, r.remainingReason)}`,
    `coverage ${p.coverage == null ? na(p.coverageReason) : times(p.coverage)}`,
    `calls ${counts.call}, meetings ${counts.meeting}, score ${r.activities.score ?? 'n/a'}`,
  ].join('  ');
}

/** A team's reps' alerts, or a region's and the org's counts and critical alerts. */
function repAlertLines(o: Obj): string[] | undefined {
  const line = (x: Obj) => `  [${str(x.severity)}] ${str(x.rule)} ${str(obj(x.rep).name)}: ${str(x.message)}`;
  if (Array.isArray(o.alerts)) {
    const alerts = list(o.alerts);
    return alerts.length === 0 ? ['  none'] : alerts.map(line);
  }
  if (o.alertCounts === undefined) return undefined;
  const counts = obj(o.alertCounts);
  const sev = obj(counts.bySeverity);
  const byRule = Object.entries(obj(counts.byRule)).map(([k, v]) => `${k} ${String(v)}`);
  return [
    `  ${String(sev.critical ?? 0)} critical, ${String(sev.warning ?? 0)} warning, ${String(sev.info ?? 0)} info${byRule.length > 0 ? ` (${byRule.join(', ')})` : ''}`,
    ...list(o.criticalAlerts).map(line),
  ];
}

/** Text of any report document. */
export function reportText(kind: string, d: JsonObject): string {
  const o = d as Obj;
  if (kind === 'forecast' || kind === 'forecast-backtest') return layoutText(reportLayout(kind, d));
  if (kind === 'rep') {
    const lines = subjectText(subjectDoc(d));
    for (const section of breakdownSections(o)) lines.push(...sectionLines(section));
    return lines.join('\n');
  }
  if (kind === 'leaderboard') {
    const scope = obj(o.scope);
    const lines = [
      `LEADERBOARD by ${str(o.by)} - ${str(scope.name)}, ${str(obj(o.period).id)} as of ${str(o.asOf)}`,
      '',
    ];
    const metric = leaderboardMetric(o.by);
    const { ranked, notes } = withoutQuota(list(o.entries), (x) => x.rank != null, metric.reasonOf);
    const column = metric.column;
    for (const x of ranked)
      lines.push(
        `  ${`#${str(x.rank)}`.padEnd(5)}${(str(obj(x.subject).name) ?? '').padEnd(22)}${pct(x.attainment, x.attainmentReason).padStart(9)}  ${money(x.actual).padStart(14)} of ${money(x.quota, x.quotaReason).padStart(14)}  projected ${pct(x.projectedAttainment, x.projectedAttainmentReason).padStart(8)}${column ? `  ${column.heading.toLowerCase()} ${column.value(x)}` : ''}`,
      );
    if (notes.length > 0) lines.push('');
    for (const n of notes) lines.push(`  ${n}`);
    return lines.join('\n');
  }
  if (kind === 'trends') {
    const layout = reportLayout(kind, d);
    const lines = [layout.title.replace(/^Trends/, 'TRENDS')];
    for (const section of layout.sections) lines.push(...sectionLines(section));
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
  // team, region, org: totals (with the reps' alerts), then the org's regions, teams and reps.
  const lines = subjectText(subjectDoc(o.totals), true, repAlertLines(o));
  const regions = subjectDocs(o.regions);
  if (regions.length > 0) {
    lines.push('', 'REGIONS');
    for (const r of regions) lines.push(repLine(r));
  }
  const teams = subjectDocs(o.teams);
  if (teams.length > 0) {
    lines.push('', 'TEAMS');
    for (const t of teams) lines.push(repLine(t));
  }
  const reps = withoutQuota(subjectDocs(o.reps), (r) => r.attainment != null);
  lines.push('', 'REPS');
  for (const r of reps.ranked) lines.push(repLine(r));
  if (reps.ranked.length > 0 && reps.notes.length > 0) lines.push('');
  for (const n of reps.notes) lines.push(`  ${n}`);
  const leavers = subjectDocs(o.leavers);
  if (leavers.length > 0) {
    lines.push('', 'LEFT DURING THE PERIOD');
    for (const r of leavers) {
      lines.push(`  ${memberName(r).padEnd(34)}  actual ${money(r.actual)}  of quota ${money(r.quota, r.quotaReason)}`);
      for (const d of r.openDealsNeedingOwner ?? [])
        lines.push(
          `    needs a new owner: ${str(d.name)} ${money(d.amount)} closing ${str(d.closeDate)} (${str(d.stage)})`,
        );
    }
  }
  for (const section of [...dashboardSections(o), ...breakdownSections(o)]) lines.push(...sectionLines(section));
  return lines.join('\n');
}
