/**
 * One warehouse row per HubSpot record, or the record quarantined with the reason its normalizer gave (the run goes
 * on); anything else a normalizer throws is a bug and stops the page.
 */
import type { NormalizedRecord, QuarantinedRecord, TableRows, WarehouseTable } from '../types.ts';
import { type HsObject, stampOf, Unnormalizable } from './normalize.ts';

export function planRows<T extends WarehouseTable>(
  objects: readonly HsObject[],
  stampProperty: string,
  normalize: (o: HsObject) => TableRows[T],
): { records: NormalizedRecord<T>[]; quarantined: QuarantinedRecord[] } {
  const records: NormalizedRecord<T>[] = [];
  const quarantined: QuarantinedRecord[] = [];
  for (const o of objects) {
    try {
      records.push({
        externalId: o.id,
        sourceModifiedAt: stampOf(o, stampProperty),
        isDeleted: false,
        row: normalize(o),
      });
    } catch (e) {
      if (!(e instanceof Unnormalizable)) throw e;
      quarantined.push({ externalId: o.id, reasonCode: e.reasonCode, reason: e.message, payload: o });
    }
  }
  return { records, quarantined };
}
