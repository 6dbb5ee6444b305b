/**
 * Which metric goes to which CRM field, and in which units. The metrics engine speaks decimal ratios ("0.8700" for
 * 87%); a CRM field speaks its own type: a Salesforce Percent field stores 87 for 87%, a Number field that RevOps
 * maps a ratio to stores 0.87. The unit of each field is learned from the CRM's own metadata (`describe`) at start,
 * so a RevOps admin who makes `Quota_Attainment__c` a Number field gets 0.87 without touching our config.
 *
 * Values are kept as canonical decimal text (no trailing zeros: "87", "87.25", "0.87") in the ledger, so that a
 * value read back from the CRM as a JSON number compares equal to what we pushed.
 */
import { AppError } from '../errors.ts';
import { Dec } from '../util/money.ts';

/** The metrics written back per rep, by their config name (`connections[].writeback.fields.<name>`). */
export const WRITEBACK_METRICS = ['attainment', 'pace', 'projectedAttainment', 'status', 'coverage', 'rank'] as const;
export type WritebackMetric = (typeof WRITEBACK_METRICS)[number];

/** Config names of every overridable field, the metrics plus the as-of date. */
export type WritebackFieldKey = WritebackMetric | 'asOf';

/** How a CRM field holds a value. */
export type FieldUnit =
  /** Percent: a ratio times 100 (87 for 87%). */
  | 'percent'
  /** A plain number: the ratio or count as it is (0.87). */
  | 'number'
  /** Text or picklist: the value's own text. */
  | 'text'
  /** A date, `YYYY-MM-DD`. */
  | 'date';

export interface FieldSpec {
  /** The CRM field's API name. */
  name: string;
  unit: FieldUnit;
  /** Decimal places the field keeps (Salesforce `scale`); values are rounded half away from zero to it. */
  scale: number;
}

/** Default Salesforce field names (interface file), shared by User and Quota_Scorecard__c. */
export const DEFAULT_FIELD_NAMES: Readonly<Record<WritebackFieldKey, string>> = {
  attainment: 'Quota_Attainment__c',
  pace: 'Quota_Pace__c',
  projectedAttainment: 'Projected_Attainment__c',
  status: 'Quota_Status__c',
  coverage: 'Pipeline_Coverage__c',
  rank: 'Quota_Rank__c',
  asOf: 'Quota_Metrics_As_Of__c',
};

/** Units of the shipped metadata (salesforce-metadata/), used until the CRM's describe says otherwise. */
export const DEFAULT_FIELD_UNITS: Readonly<Record<WritebackFieldKey, Omit<FieldSpec, 'name'>>> = {
  attainment: { unit: 'percent', scale: 2 },
  pace: { unit: 'percent', scale: 2 },
  projectedAttainment: { unit: 'percent', scale: 2 },
  status: { unit: 'text', scale: 0 },
  coverage: { unit: 'number', scale: 4 },
  rank: { unit: 'number', scale: 0 },
  asOf: { unit: 'date', scale: 0 },
};

/** The field layout of one connection's write-back target. */
export type FieldLayout = Readonly<Record<WritebackFieldKey, FieldSpec>>;

/** Field names from the config (overrides) over the defaults, with the default units. */
export function defaultLayout(overrides: Partial<Record<WritebackFieldKey, string | undefined>> = {}): FieldLayout {
  const out = {} as Record<WritebackFieldKey, FieldSpec>;
  for (const key of [...WRITEBACK_METRICS, 'asOf'] as const) {
    out[key] = { name: overrides[key] ?? DEFAULT_FIELD_NAMES[key], ...DEFAULT_FIELD_UNITS[key] };
  }
  return out;
}

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

/**
 * A value the CRM returned (a JSON number for numeric fields) as ledger text, so it can be compared with what the
 * ledger says was pushed.
 */
export function fromWireValue(value: unknown, spec: FieldSpec): string | null {
  if (value === null || value === undefined) return null;
  if (spec.unit === 'percent' || spec.unit === 'number') return canonicalDecimal(new Dec(String(value)), spec.scale);
  return String(value);
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
