import { describe, expect, it } from 'vitest';
import { streamStartOrder } from '../../src/cli/commands/sync.ts';

describe("the order a connection's streams start in", () => {
  it('starts the deals first, then the biggest tables, then the rest in their own order', () => {
    // Salesforce's streams after users and roles, as the registry lists them.
    const tables = ['deals', 'deal_stage_history', 'deal_line_items', 'activities', 'activities', 'quotas', 'fx_rates'];
    expect(streamStartOrder(tables)).toEqual([0, 1, 3, 4, 2, 5, 6]);
    // Deals listed late still start first: a sync stopped by the API budget after two streams has the deals.
    expect(streamStartOrder(['activities', 'quotas', 'deal_stage_history', 'deals'])).toEqual([3, 0, 2, 1]);
    expect(streamStartOrder([])).toEqual([]);
  });
});
