/**
 * HubSpot alert tasks when a create's answer is lost: the batch create reached HubSpot and made the tasks, then the
 * connection dropped mid-answer. The client does not send that create again (with a plain, not unique, key
 * property HubSpot would make every task twice); the batch is reported unconfirmed, and the next delivery's search
 * by `quota_alert_key` finds the tasks. Exactly one task per key either way. Due dates are the day in every zone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubSpotClient } from '../../../src/connectors/hubspot/client.ts';
import { HUBSPOT_PATHS } from '../../../src/connectors/hubspot/paths.ts';
import { HubSpotTaskWriter } from '../../../src/connectors/hubspot/tasks.ts';
import type { AlertTask } from '../../../src/connectors/types.ts';
import { type HubSpotSandbox, startHubSpotSandbox } from '../../../src/sandbox/hubspot/index.ts';
import { silentLogger } from '../../../src/util/log.ts';

let sb: HubSpotSandbox;
beforeAll(async () => {
  sb = await startHubSpotSandbox({ seed: 4, size: 'small', anchorDate: '2026-11-15' });
}, 60_000);
afterAll(async () => {
  await sb?.close();
});

const task = (key: string, owner: string): AlertTask => ({
  externalKey: key,
  ownerExternalId: owner,
  subject: `At risk: ${key}`,
  description: 'Projected attainment is 61.0%, under 70.0%',
  dueDate: '2026-11-18',
});

describe('a task create whose answer never came', () => {
  it('is not sent again by the client; the next delivery finds the tasks it made, one per key', async () => {
    const client = new HubSpotClient({
      accessToken: sb.credentials.accessToken,
      basePath: sb.url,
      log: silentLogger,
      sleep: async () => {},
      // A dropped answer ends as a timeout at worst: 3 s, not the default minute.
      requestTimeoutMs: 3_000,
    });
    // A portal whose key property could not be made unique: nothing in HubSpot refuses a second create.
    const groups = await client.get<{ results: Array<{ name: string }> }>(HUBSPOT_PATHS.propertyGroups('tasks'));
    await client.post(HUBSPOT_PATHS.properties('tasks'), {
      name: 'quota_alert_key',
      label: 'Quota alert key',
      type: 'string',
      fieldType: 'text',
      groupName: groups.results[0]?.name,
    });
    const owner = String([...sb.store.owners.values()][0]?.id);
    const tasks = [task('at_risk_rep:a:FY2026-Q4:warning', owner), task('at_risk_rep:b:FY2026-Q4:warning', owner)];
    const writer = new HubSpotTaskWriter(client, silentLogger);
    sb.faults.add({ kind: 'drop', path: '/crm/v3/objects/tasks/batch/create', count: 1 });
    const first = await writer.upsertTasks(tasks);
    expect(first.map((r) => [r.externalKey, r.ok, r.retryable])).toEqual(
      tasks.map((t) => [t.externalKey, false, true]),
    );
    expect(sb.faults.list()).toEqual([]);
    const made = () =>
      [...sb.store.scan('tasks')].filter((r) =>
        tasks.some((t) => t.externalKey.toLowerCase() === r.props.quota_alert_key),
      );
    // One create went out, and it landed.
    expect(sb.log.entries().filter((e) => e.path === '/crm/v3/objects/tasks/batch/create')).toHaveLength(1);
    expect(made()).toHaveLength(2);

    const again = await writer.upsertTasks(tasks);
    expect(again.map((r) => [r.ok, r.created])).toEqual([
      [true, false],
      [true, false],
    ]);
    expect(made()).toHaveLength(2);
    // Due on the 18th wherever the manager sits: noon UTC.
    for (const r of made()) expect(r.props.hs_timestamp).toMatch(/^2026-11-18T12:00:00(\.000)?Z$|^1795/);
  });

  it('a batch refused whole (400) for one task is sent again in halves: the others are made, that one fails', async () => {
    const client = new HubSpotClient({ accessToken: sb.credentials.accessToken, basePath: sb.url, log: silentLogger });
    const owner = String([...sb.store.owners.values()][0]?.id);
    const tasks = ['c', 'd', 'e'].map((x) => task(`at_risk_rep:${x}:FY2026-Q4:warning`, owner));
    const writer = new HubSpotTaskWriter(client, silentLogger);
    sb.log.clear();
    // The first task of the batch is the one HubSpot will not take (an owner gone, a deal deleted).
    sb.faults.add({ kind: 'poison_input_400', method: 'POST', path: '/crm/v3/objects/tasks/batch/create' });
    try {
      const r = await writer.upsertTasks(tasks);
      expect(r.map((x) => [x.externalKey.split(':')[1], x.ok, x.retryable ?? null])).toEqual([
        ['c', false, false],
        ['d', true, null],
        ['e', true, null],
      ]);
      // [c, d, e] refused; [c, d] refused, [c] refused, [d] made; [e] made.
      const creates = sb.log.entries().filter((e) => e.path === '/crm/v3/objects/tasks/batch/create');
      expect(creates.map((e) => e.status)).toEqual([400, 400, 400, 201, 201]);
    } finally {
      sb.faults.clear();
    }
  });
});
