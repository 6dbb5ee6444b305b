import { describe, expect, it } from 'vitest';
import { streamStartOrder } from '../../src/cli/commands/sync.ts';

describe("the order a connection's streams start in", () => {
  it('starts the deals first, then one stream of each big table (activities first), then the rest in their own order', () => {
    // Salesforce's streams after users and roles, as the registry lists them: opportunities, history, line items,
    // tasks, events, quotas, rates. The tasks (the largest) start beside the deals, the history next, the events after.
    const tables = ['deals', 'deal_stage_history', 'deal_line_items', 'activities', 'activities', 'quotas', 'fx_rates'];
    expect(streamStartOrder(tables)).toEqual([0, 3, 1, 4, 2, 5, 6]);
    // HubSpot's: deals, stage history, line items, calls, emails, meetings, tasks, leads.
    const hubspot = ['deals', 'deal_stage_history', 'deal_line_items', 'activities', 'activities', 'activities'];
    expect(streamStartOrder([...hubspot, 'activities', 'leads'])).toEqual([0, 3, 1, 4, 5, 6, 2, 7]);
    // Deals listed late still start first: a sync stopped by the API budget after two streams has the deals.
    expect(streamStartOrder(['activities', 'quotas', 'deal_stage_history', 'deals'])).toEqual([3, 0, 2, 1]);
    expect(streamStartOrder([])).toEqual([]);
  });
});
