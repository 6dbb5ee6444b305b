/**
 * Which metric goes to which CRM field, and in which units. The metrics engine speaks decimal ratios ("0.8700" for
 * 87%); a CRM field speaks its own type: a Salesforce Percent field stores 87 for 87%, a Number field that RevOps
 * maps a ratio to stores 0.87. The unit of each field is learned from the CRM's own metadata (`describe`) at start,
 * so a RevOps admin who makes `Quota_Attainment__c` a Number field gets 0.87 without touching our config.
 *
 * Values are kept as canonical decimal text (no trailing zeros: "87", "87.25", "0.87") in the ledger, so that a
 * value read back from the CRM as a JSON number compares equal to what we pushed.
 */
import { type FieldLayout, type FieldSpec, type FieldUnit, WRITEBACK_METRICS } from '../connectors/types.ts';
import { AppError } from '../errors.ts';
import { Dec } from '../util/money.ts';

/**
 * One rep's metrics as the reports print them: ratios as decimal strings ("0.8700"), the status band's name, the
 * rank as a whole number; null where the metric has no value (no quota, quota met).
 */
export interface RepMetricValues {
  attainment: string | null;
  /** Pace index A / E: "1.0845" when 8.45% ahead of the expected-to-date (the report's `paceIndex`). */
  pace: string | null;
  projectedAttainment: string | null;
  status: string | null;
  coverage: string | null;
  rank: number | null;
}

/** Canonical decimal text: rounded to `scale` places, no trailing zeros, no exponent ("87", "0.87", "-3.5"). */
export function canonicalDecimal(value: Dec, scale: number): string {
  const rounded = value.toDecimalPlaces(scale, Dec.ROUND_HALF_UP);
  // toFixed avoids exponent notation; the regex strips the zeros a fixed rendering pads with.
  const fixed = rounded.toFixed(scale);
  const stripped = fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
  return stripped === '-0' ? '0' : stripped;
}

/**
 * A metric value in the field's own units, as ledger text. Ratios bound for a Percent field are first rounded to
 * the four places the JSON reports show, so that the field reads exactly what `report --format json` prints.
 */
export function toFieldText(value: string | number | null, spec: FieldSpec, where: string): string | null {
  if (value === null) return null;
  switch (spec.unit) {
    case 'text':
      return String(value);
    case 'date':
      if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) {
        throw new AppError('INTERNAL', `expected a YYYY-MM-DD date for ${spec.name}, got ${String(value)}`, { where });
      }
      return value;
    case 'percent':
    case 'number': {
      let d: Dec;
      try {
        d = new Dec(value);
      } catch (cause) {
        throw new AppError('INTERNAL', `expected a decimal for ${spec.name}, got ${JSON.stringify(value)}`, {
          where,
          cause,
        });
      }
      if (spec.unit === 'percent') d = d.toDecimalPlaces(4, Dec.ROUND_HALF_UP).times(100);
      return canonicalDecimal(d, spec.scale);
    }
  }
}

/** Ledger text to the JSON value the CRM API takes for the field. */
export function toWireValue(text: string | null, unit: FieldUnit): string | number | null {
  if (text === null) return null;
  return unit === 'percent' || unit === 'number' ? Number(text) : text;
}

/** The metric fields of one rep, in the layout's units: field API name -> ledger text. */
export function metricFieldValues(
  values: RepMetricValues,
  layout: FieldLayout,
  where: string,
): Map<string, string | null> {
  const out = new Map<string, string | null>();
  for (const key of WRITEBACK_METRICS) {
    const spec = layout[key];
    out.set(spec.name, toFieldText(values[key], spec, `${where}.${key}`));
  }
  return out;
}

/** Units by field API name, for turning ledger text into wire values. */
export function unitsByField(layout: FieldLayout): Map<string, FieldUnit> {
  const out = new Map<string, FieldUnit>();
  for (const spec of Object.values(layout)) out.set(spec.name, spec.unit);
  return out;
}
