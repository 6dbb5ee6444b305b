/**
 * HubSpot records as warehouse rows, hand-worked: won and lost from stage metadata (strings, as HubSpot sends
 * them) whatever the labels say; stage history rows carrying the amount and close date that stood at each change;
 * what cannot be normalized names its property.
 */
import { describe, expect, it } from 'vitest';
import {
  normalizeDeal,
  normalizeStageHistory,
  type PortalFacts,
  stageMap,
  Unnormalizable,
} from '../../../src/connectors/hubspot/normalize.ts';

const stages = stageMap([
  {
    id: 'default',
    label: 'Sales',
    stages: [
      { id: 'open1', label: 'Closed Won', displayOrder: 0, metadata: { isClosed: 'false', probability: '0.2' } },
      { id: 'yes', label: 'Contract Signed', displayOrder: 1, metadata: { isClosed: 'true', probability: '1.0' } },
      { id: 'no', label: 'Closed Won?', displayOrder: 2, metadata: { isClosed: 'true', probability: '0.0' } },
    ],
  },
  {
    id: '123',
    label: 'Renewals',
    stages: [{ id: 'yes', label: 'Renewed', displayOrder: 0, metadata: { isClosed: true, probability: 1 } }],
  },
]);
const facts: PortalFacts = { timeZone: 'America/New_York', companyCurrency: 'USD', stages };

describe('HubSpot normalizing', () => {
  it('takes won and lost from stage metadata in each pipeline, never from the label', () => {
    expect(stages.get('default|open1')).toEqual({ label: 'Closed Won', category: 'open', probability: '0.2' });
    expect(stages.get('default|yes')?.category).toBe('won');
    expect(stages.get('default|no')?.category).toBe('lost');
    expect(stages.get('123|yes')).toEqual({ label: 'Renewed', category: 'won', probability: '1' });
  });

  it('a deal: amount in its currency, close date in the portal zone, stage of its own pipeline', () => {
    const row = normalizeDeal(
      {
        id: '7',
        properties: {
          dealname: 'Acme',
          hubspot_owner_id: '42',
          amount: '1200.50',
          deal_currency_code: 'EUR',
          dealstage: 'yes',
          pipeline: '123',
          closedate: '2026-04-01T02:00:00.000Z', // 22:00 on 31 March in New York
          createdate: '2026-01-05T15:00:00.000Z',
        },
      },
      facts,
    );
    expect(row).toMatchObject({
      amount: '1200.5',
      currency: 'EUR',
      stage: 'Renewed',
      stage_category: 'won',
      probability: '1',
      close_date: '2026-03-31',
      created_date: '2026-01-05',
      owner_external_id: '42',
    });
  });

  it('names what cannot be normalized', () => {
    const base = { dealstage: 'yes', closedate: '2026-04-01T12:00:00Z', createdate: '2026-01-01T12:00:00Z' };
    const code = (props: Record<string, string | null>) => {
      try {
        normalizeDeal({ id: '1', properties: { ...base, ...props } }, facts);
      } catch (e) {
        return e instanceof Unnormalizable ? `${e.reasonCode}: ${e.message}` : String(e);
      }
      return 'ok';
    };
    expect(code({ closedate: null })).toBe('MISSING_CLOSE_DATE: closedate is empty');
    expect(code({ amount: '12,5' })).toBe('BAD_NUMBER: amount is not a number: "12,5"');
    expect(code({ dealstage: 'gone' })).toBe('UNKNOWN_STAGE: dealstage "gone" is not a stage of pipeline "default"');
  });

  it('stage history rows carry the amount and close date that stood at each change', () => {
    const rows = normalizeStageHistory(
      {
        id: '9',
        properties: { pipeline: 'default', dealstage: 'yes' },
        propertiesWithHistory: {
          // Newest first, as HubSpot sends history.
          dealstage: [
            { value: 'yes', timestamp: '2026-03-10T10:00:00.000Z' },
            { value: 'open1', timestamp: '2026-02-01T10:00:00.000Z' },
          ],
          amount: [
            { value: '900', timestamp: '2026-03-01T00:00:00.000Z' },
            { value: '500', timestamp: '2026-02-01T10:00:00.000Z' },
          ],
          closedate: [{ value: '2026-03-31T16:00:00.000Z', timestamp: '2026-02-01T10:00:00.000Z' }],
        },
      },
      facts,
    );
    expect(rows.map((r) => [r.externalId, r.row.stage, r.row.stage_category, r.row.amount, r.row.close_date])).toEqual([
      ['9:1773136800000:yes', 'Contract Signed', 'won', '900', '2026-03-31'],
      ['9:1769940000000:open1', 'Closed Won', 'open', '500', '2026-03-31'],
    ]);
  });
});
