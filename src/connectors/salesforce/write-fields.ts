/**
 * The Salesforce write-back fields of the interface file: their default API names (shared by User and
 * Quota_Scorecard__c) and the units of the shipped metadata (salesforce-metadata/), used until the org's describe
 * says otherwise. A connection's `writeback.fields` overrides the names.
 */
import {
  DEFAULT_FIELD_UNITS,
  type FieldLayout,
  type FieldSpec,
  WRITEBACK_METRICS,
  type WritebackFieldKey,
} from '../types.ts';

export const DEFAULT_FIELD_NAMES: Readonly<Record<WritebackFieldKey, string>> = {
  attainment: 'Quota_Attainment__c',
  pace: 'Quota_Pace__c',
  projectedAttainment: 'Projected_Attainment__c',
  status: 'Quota_Status__c',
  coverage: 'Pipeline_Coverage__c',
  rank: 'Quota_Rank__c',
  asOf: 'Quota_Metrics_As_Of__c',
};

export { DEFAULT_FIELD_UNITS };

/** Field names from the config (overrides) over the defaults, with the default units. */
export function defaultLayout(overrides: Partial<Record<WritebackFieldKey, string | undefined>> = {}): FieldLayout {
  const out = {} as Record<WritebackFieldKey, FieldSpec>;
  for (const key of [...WRITEBACK_METRICS, 'asOf'] as const) {
    out[key] = { name: overrides[key] ?? DEFAULT_FIELD_NAMES[key], ...DEFAULT_FIELD_UNITS[key] };
  }
  return out;
}
