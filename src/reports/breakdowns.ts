/**
 * A subject's attainment by product line and by segment (`byProductLine`, `bySegment`): its won credits of the
 * period to date grouped by the deal's product line (the mapped field, or the family of its largest line item) and
 * segment (`fields.segment`), against the quota set per product family where there is one (Salesforce
 * `ForecastingQuota.ProductFamily`, or the `product_line` column of quotas.csv). Rules: docs/metrics.md,
 * "Product lines and segments".
 */
import type { Kysely } from 'kysely';
import type { FiscalPeriod } from '../config/calendar.ts';
import type { Database } from '../db/schema.ts';
import type { JsonObject } from '../metrics/document.ts';
import type { MetricsModel } from '../metrics/engine/model.ts';
import type { SubjectRef } from '../metrics/engine/types.ts';
import { wonIn } from '../metrics/math/attainment.ts';
import type { Credit } from '../metrics/math/booking.ts';
import { convertAmount } from '../metrics/math/currency.ts';
import { membershipOn, quotaMembershipDate } from '../metrics/math/rollup.ts';
import { toDateWindow } from '../metrics/math/windows.ts';
import { Dec, formatMoney, formatRatio } from '../util/money.ts';
import { creditsOf, quickAttainment, type ReportContext } from './context.ts';

/** Where a deal has no product line or segment (the field is empty or not mapped). */
export const NONE = '(none)';

/** Each rep's quota per product line for a period, in base currency: rep key -> line -> amount. */
export type LineQuotas = Map<string, Map<string, Dec>>;

const lineQuotaMemo = new WeakMap<object, Map<string, Promise<LineQuotas>>>();

/**
 * The product-line quota rows inside the period (of the configured quota source), summed per rep and line and
 * converted at the period's first day as the model converts a rep's quota. Read once per model data and period.
 */
export function lineQuotasOf(db: Kysely<Database>, model: MetricsModel, period: FiscalPeriod): Promise<LineQuotas> {
  let memo = lineQuotaMemo.get(model.data);
  if (!memo) {
    memo = new Map();
    lineQuotaMemo.set(model.data, memo);
  }
  const key = `${period.id}|${period.start}|${period.end}`;
  let found = memo.get(key);
  if (!found) {
    found = readLineQuotas(db, model, period);
    memo.set(key, found);
  }
  return found;
}

async function readLineQuotas(db: Kysely<Database>, model: MetricsModel, period: FiscalPeriod): Promise<LineQuotas> {
  const rows = await db
    .selectFrom('quotas')
    .select(['person_id', 'connection_id', 'owner_external_id', 'amount', 'currency', 'product_line'])
    .where('is_deleted', '=', false)
    .where('product_line', 'is not', null)
    .where('source', '=', model.settings.quotaSource)
    .where('org_unit_id', 'is', null)
    .where('period_start', '>=', period.start)
    .where('period_end', '<=', period.end)
    .execute();
  const out: LineQuotas = new Map();
  for (const r of rows) {
    const rep =
      r.person_id !== null
        ? `person:${r.person_id}`
        : r.connection_id !== null && r.owner_external_id !== null
          ? model.data.ownerToRep.get(`${r.connection_id}:${r.owner_external_id}`)
          : undefined;
    if (rep === undefined || !model.data.reps.has(rep)) continue;
    const c = convertAmount(model.fx, new Dec(r.amount), r.currency, period.start, `quota ${rep} ${r.product_line}`);
    if (c.amount === null) continue;
    const lines = out.get(rep) ?? new Map<string, Dec>();
    const line = r.product_line as string;
    lines.set(line, (lines.get(line) ?? new Dec(0)).plus(c.amount));
    out.set(rep, lines);
  }
  return out;
}

/**
 * A subject's quota for each product line: a rep's own rows; a group's, the sum of its members' on the date that
 * decides a group's quota (`quotaMembershipDate`).
 */
export function subjectLineQuotas(
  model: MetricsModel,
  subject: SubjectRef,
  period: FiscalPeriod,
  quotas: LineQuotas,
): Map<string, Dec> {
  if (subject.kind === 'rep') return quotas.get(subject.id) ?? new Map();
  const on = quotaMembershipDate(period, model.asOf);
  const out = new Map<string, Dec>();
  for (const [rep, lines] of quotas) {
    const m = membershipOn(model.memberships, rep, on);
    if (subject.kind !== 'org') {
      if (!m) continue;
      if ((subject.kind === 'team' ? m.teamId : m.regionId) !== subject.id) continue;
    } else if (!m && (model.memberships.get(rep)?.length ?? 0) > 0) continue;
    for (const [line, q] of lines) out.set(line, (out.get(line) ?? new Dec(0)).plus(q));
  }
  return out;
}

function groupWon(credits: readonly Credit[], key: (c: Credit) => string | null | undefined) {
  const out = new Map<string, { actual: Dec; deals: number }>();
  for (const c of credits) {
    const v = key(c);
    const k = v === null || v === undefined || v === '' ? NONE : v;
    const cur = out.get(k);
    if (cur) {
      cur.actual = cur.actual.plus(c.amount);
      cur.deals++;
    } else out.set(k, { actual: c.amount, deals: 1 });
  }
  return out;
}

const byName = (a: string, b: string) => (a === NONE ? 1 : b === NONE ? -1 : a < b ? -1 : a > b ? 1 : 0);

/** `{ byProductLine, bySegment }` of one subject for the report's period as of D. */
export async function breakdownsOf(ctx: ReportContext, subject: SubjectRef): Promise<JsonObject> {
  const model = ctx.model;
  const period = ctx.period;
  const won = wonIn(creditsOf(model, subject), toDateWindow(period, model.asOf));
  const whole = quickAttainment(ctx, subject, period);
  const quota = whole.quota;
  const total = whole.actual;
  const share = (x: Dec) => (total.isZero() ? null : formatRatio(x.div(total)));
  const ofScope = (x: Dec) => (quota === null || quota.isZero() ? null : formatRatio(x.div(quota)));
  const lineQuotas = subjectLineQuotas(model, subject, period, await lineQuotasOf(ctx.db, model, period));
  const lines = groupWon(won, (c) => c.deal.productLine);
  for (const line of lineQuotas.keys()) if (!lines.has(line)) lines.set(line, { actual: new Dec(0), deals: 0 });
  const byProductLine = [...lines.keys()].sort(byName).map((line) => {
    const x = lines.get(line) as { actual: Dec; deals: number };
    const own = lineQuotas.get(line) ?? null;
    const o: JsonObject = {
      productLine: line,
      quota: own === null ? null : formatMoney(own),
      actual: formatMoney(x.actual),
      deals: x.deals,
      shareOfActual: share(x.actual),
      // Against its own quota where one is set per product family; else its share of the subject's quota.
      attainment: own !== null ? (own.isZero() ? null : formatRatio(x.actual.div(own))) : ofScope(x.actual),
      attainmentBasis: own !== null ? 'own_quota' : 'subject_quota',
    };
    if (own === null) o.quotaReason = 'no_product_line_quota';
    if (o.attainment === null) o.attainmentReason = 'no_quota';
    return o;
  });
  const segments = groupWon(won, (c) => c.deal.segment);
  const bySegment = [...segments.keys()].sort(byName).map((segment) => {
    const x = segments.get(segment) as { actual: Dec; deals: number };
    const o: JsonObject = {
      segment,
      actual: formatMoney(x.actual),
      deals: x.deals,
      shareOfActual: share(x.actual),
      attainment: ofScope(x.actual),
    };
    if (o.attainment === null) o.attainmentReason = 'no_quota';
    return o;
  });
  return { byProductLine, bySegment };
}
