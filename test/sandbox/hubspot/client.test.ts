/**
 * The real @hubspot/api-client (13.x) against the HubSpot sandbox over HTTP: every endpoint the connector will use,
 * with HubSpot's page sizes, the search cap, batch multi-status, associations, schemas, properties, auth, limits
 * and faults. The SDK's own retry is off (`numberOfApiCallRetries: 0`) wherever a limit or a fault is checked.
 */
import { Client } from '@hubspot/api-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HubSpotSandbox, startHubSpotSandbox } from '../../../src/sandbox/hubspot/index.ts';

const ANCHOR = '2026-11-15';
let sb: HubSpotSandbox;
let client: Client;

function clientFor(s: HubSpotSandbox, token = s.credentials.accessToken): Client {
  return new Client({ accessToken: token, basePath: s.url, numberOfApiCallRetries: 0 });
}

/** The status and body of a failed SDK call. */
async function failure(p: Promise<unknown>): Promise<{ code: number; body: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    const err = e as { code?: number; body?: unknown };
    const body = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
    return { code: err.code ?? 0, body: (body ?? {}) as Record<string, unknown> };
  }
  throw new Error('the call succeeded');
}

async function admin(s: HubSpotSandbox, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${s.url}/__sandbox/${path}`, {
    method,
    headers: { 'x-sandbox-admin-token': s.credentials.adminToken, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return res.status === 204 ? null : res.json();
}

beforeAll(async () => {
  // The search limit (5 a second) is checked on its own below; these tests search faster.
  sb = await startHubSpotSandbox({ seed: 42, size: 'small', anchorDate: ANCHOR, rateLimits: { searchPerSecond: 100 } });
  client = clientFor(sb);
}, 60_000);
afterAll(async () => {
  await sb?.close();
});

describe('HubSpot sandbox through @hubspot/api-client', () => {
  it('lists every deal in pages of 100 (fewer, 50, with property history), with stage history newest first', async () => {
    const ids = new Set<string>();
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await client.crm.deals.basicApi.getPage(100, after, ['amount', 'dealstage', 'pipeline']);
      expect(page.results.length).toBeLessThanOrEqual(100);
      for (const d of page.results) ids.add(d.id);
      after = page.paging?.next?.after;
      pages++;
    } while (after);
    expect(ids.size).toBe(sb.store.count('deals'));
    expect(pages).toBe(Math.ceil(ids.size / 100));

    const withHistory = await client.crm.deals.basicApi.getPage(100, undefined, ['dealstage'], ['dealstage']);
    expect(withHistory.results).toHaveLength(50);
    const moved = withHistory.results.find((d) => (d.propertiesWithHistory?.dealstage?.length ?? 0) > 1);
    expect(moved).toBeDefined();
    const h = moved!.propertiesWithHistory!.dealstage!;
    expect(h[0]!.value).toBe(moved!.properties.dealstage);
    expect(h[0]!.timestamp.getTime()).toBeGreaterThanOrEqual(h[h.length - 1]!.timestamp.getTime());
  });

  it('reads by id, by a unique property, and archived records only with archived=true', async () => {
    const [first] = (await client.crm.deals.basicApi.getPage(1)).results;
    const one = await client.crm.deals.basicApi.getById(first!.id, ['dealname', 'amount_in_home_currency'], undefined, [
      'companies',
    ]);
    expect(one.properties.hs_object_id).toBe(first!.id);
    expect(one.associations?.companies?.results.length).toBeGreaterThan(0);
    const contact = (await client.crm.contacts.basicApi.getPage(1, undefined, ['email'])).results[0]!;
    expect(contact.properties.lastmodifieddate).toBeTruthy();
    expect(contact.properties.hs_lastmodifieddate).toBeUndefined();
    const byEmail = await client.crm.contacts.basicApi.getById(
      contact.properties.email!,
      undefined,
      undefined,
      undefined,
      false,
      'email',
    );
    expect(byEmail.id).toBe(contact.id);

    await client.crm.deals.basicApi.archive(first!.id);
    expect((await failure(client.crm.deals.basicApi.getById(first!.id))).code).toBe(404);
    const archived = await client.crm.deals.basicApi.getPage(100, undefined, undefined, undefined, undefined, true);
    const gone = archived.results.find((d) => d.id === first!.id);
    expect(gone?.archived).toBe(true);
    expect(gone?.archivedAt).toBeDefined();
    // Archiving does not move the modification stamp.
    expect(gone?.updatedAt.toISOString()).toBe(first!.updatedAt.toISOString());
    sb.store.restore('deals', first!.id);
  });

  it('serves every object type: contacts, companies, calls, meetings, emails, tasks, notes, leads, line items, goal targets, users', async () => {
    const types = [
      'contacts',
      'companies',
      'calls',
      'meetings',
      'emails',
      'tasks',
      'notes',
      'leads',
      'line_items',
      'goal_targets',
      'users',
    ];
    for (const t of types) {
      const page = await client.crm.objects.basicApi.getPage(t, 10);
      expect(page.results.length, t).toBeGreaterThan(0);
      const stamp = t === 'contacts' ? 'lastmodifieddate' : 'hs_lastmodifieddate';
      expect(page.results[0]!.properties[stamp], t).toBeTruthy();
    }
    const goals = await client.crm.objects.basicApi.getPage('goal_targets', 100, undefined, [
      'hs_target_amount',
      'hs_assignee_user_id',
      'hs_start_datetime',
      'hs_end_datetime',
      'hs_kpi_value',
      'hs_kpi_progress_percent',
    ]);
    const g = goals.results[0]!.properties;
    expect(Number(g.hs_target_amount)).toBeGreaterThan(0);
    const users = await client.settings.users.usersApi.getPage(100);
    expect(users.results.map((u) => u.id)).toContain(g.hs_assignee_user_id);
    // Goal targets are read-only through the API.
    const denied = await failure(
      client.crm.objects.basicApi.create('goal_targets', { properties: { hs_goal_name: 'x' }, associations: [] }),
    );
    expect(denied.code).toBe(403);
  });

  it('searches 200 a page and answers 400 past the 10,000-result cap', async () => {
    const req = {
      filterGroups: [{ filters: [{ propertyName: 'hs_lastmodifieddate', operator: 'GTE' as never, value: '0' }] }],
      sorts: ['hs_object_id'],
      properties: ['amount'],
      limit: 200,
      after: '0',
    };
    const first = await client.crm.deals.searchApi.doSearch(req);
    expect(first.total).toBe(sb.store.count('deals'));
    expect(first.results).toHaveLength(200);
    expect(first.results[0]!.propertiesWithHistory).toBeUndefined();
    expect((await failure(client.crm.deals.searchApi.doSearch({ ...req, limit: 201 }))).code).toBe(400);
    // Past 10,000 matches: page up to the cap, then the 400 (the small org's objects are fewer; add notes).
    for (let i = 0; i < 10_100; i++)
      sb.store.create('notes', { hs_timestamp: '2026-11-01T10:00:00.000Z', hs_note_body: `n${i}` }, { quiet: true });
    const all = await client.crm.objects.searchApi.doSearch('notes', { ...req, limit: 1 });
    expect(all.total).toBeGreaterThan(10_000);
    const last = await client.crm.objects.searchApi.doSearch('notes', { ...req, after: '9800' });
    expect(last.results).toHaveLength(200);
    expect(last.paging?.next?.after).toBe('10000');
    const capped = await failure(client.crm.objects.searchApi.doSearch('notes', { ...req, after: '10000' }));
    expect(capped.code).toBe(400);
    expect(capped.body).toMatchObject({ status: 'error', category: 'VALIDATION_ERROR' });
    expect(String(capped.body.message)).toContain('10,000');
    // Too many filters is a 400 as well.
    const many = {
      ...req,
      filterGroups: [{ filters: Array.from({ length: 7 }, () => req.filterGroups[0]!.filters[0]!) }],
    };
    expect((await failure(client.crm.deals.searchApi.doSearch(many))).code).toBe(400);
  });

  it('batch reads (207 with per-input errors), creates, updates and upserts by a unique property (207 for a bad input)', async () => {
    const page = await client.crm.deals.basicApi.getPage(3);
    const read = await client.crm.deals.batchApi.read({
      inputs: [...page.results.map((d) => ({ id: d.id })), { id: '1' }],
      properties: ['dealname'],
      propertiesWithHistory: [],
    });
    expect(read.results).toHaveLength(3);
    expect((read as { errors?: unknown[] }).errors).toHaveLength(1);
    const tooMany = await failure(
      client.crm.deals.batchApi.read({
        inputs: Array.from({ length: 101 }, (_, i) => ({ id: String(i) })),
        properties: [],
        propertiesWithHistory: [],
      }),
    );
    expect(tooMany.code).toBe(400);

    await client.crm.properties.coreApi.create('companies', {
      name: 'scorecard_key',
      label: 'Scorecard key',
      type: 'string' as never,
      fieldType: 'text' as never,
      groupName: 'companyinformation',
      hasUniqueValue: true,
    });
    const up = await client.crm.companies.batchApi.upsert({
      inputs: [
        { id: 'k-1', idProperty: 'scorecard_key', properties: { name: 'Upserted One' } },
        { id: 'k-2', idProperty: 'name', properties: { domain: 'x.example.com' } },
      ],
    });
    expect((up as { errors?: unknown[] }).errors).toHaveLength(1);
    expect(up.results).toHaveLength(1);
    expect(up.results[0]!.properties.scorecard_key).toBe('k-1');
    const again = await client.crm.companies.batchApi.upsert({
      inputs: [{ id: 'k-1', idProperty: 'scorecard_key', properties: { name: 'Upserted Once More' } }],
    });
    expect(again.results[0]!.id).toBe(up.results[0]!.id);

    const created = await client.crm.deals.batchApi.create({
      inputs: [
        {
          properties: { dealname: 'Batch one', amount: '1000', dealstage: 'appointmentscheduled', pipeline: 'default' },
          associations: [],
        },
        { properties: { dealname: 'Bad', no_such_property: 'x' }, associations: [] },
      ],
    });
    expect(created.results).toHaveLength(1);
    expect((created as { errors?: unknown[] }).errors).toHaveLength(1);
    expect(created.results[0]!.properties.amount_in_home_currency).toBe('1000');
    const updated = await client.crm.deals.batchApi.update({
      inputs: [{ id: created.results[0]!.id, properties: { dealstage: 'closedwon' } }],
    });
    expect(updated.results[0]!.properties.hs_lastmodifieddate).toBeTruthy();
    const won = await client.crm.deals.basicApi.getById(created.results[0]!.id, ['hs_is_closed_won', 'dealstage']);
    expect(won.properties.hs_is_closed_won).toBe('true');
  });

  it('reads associations v4 in batches (1,000 ids at most) and per record', async () => {
    const deals = (await client.crm.deals.basicApi.getPage(100)).results;
    const res = await client.crm.associations.v4.batchApi.getPage('deals', 'companies', {
      inputs: deals.map((d) => ({ id: d.id })),
    });
    expect(res.results.length).toBeGreaterThan(90);
    const types = res.results[0]!.to[0]!.associationTypes.map((t) => t.typeId).sort((a, b) => a - b);
    expect(types).toEqual([5, 341]);
    const over = await failure(
      client.crm.associations.v4.batchApi.getPage('deals', 'companies', {
        inputs: Array.from({ length: 1001 }, (_, i) => ({ id: String(i) })),
      }),
    );
    expect(over.code).toBe(400);
    const calls = await client.crm.associations.v4.basicApi.getPage('deals', deals[0]!.id, 'line_items');
    expect(Array.isArray(calls.results)).toBe(true);
  });

  it('serves properties, groups, schemas (custom objects), owners, users, teams, pipelines, currencies and usage', async () => {
    const props = await client.crm.properties.coreApi.getAll('deals');
    expect(props.results.find((p) => p.name === 'amount_in_home_currency')?.modificationMetadata?.readOnlyValue).toBe(
      true,
    );
    expect(props.results.find((p) => p.name === 'segment')?.hubspotDefined).toBeUndefined();
    const group = await client.crm.properties.groupsApi.create('deals', {
      name: 'quota_tracker',
      label: 'Quota tracker',
    });
    expect(group.name).toBe('quota_tracker');

    const schema = await client.crm.schemas.coreApi.create({
      name: 'scorecard',
      labels: { singular: 'Scorecard', plural: 'Scorecards' },
      primaryDisplayProperty: 'key',
      requiredProperties: ['key'],
      properties: [
        { name: 'key', label: 'Key', type: 'string' as never, hasUniqueValue: true },
        { name: 'attainment', label: 'Attainment', type: 'number' as never },
      ],
      associatedObjects: ['CONTACT'],
    } as never);
    expect(schema.objectTypeId).toMatch(/^2-\d+$/);
    const up = await client.crm.objects.batchApi.upsert(schema.objectTypeId as string, {
      inputs: [{ id: 'rep-1:FY2026-Q4', idProperty: 'key', properties: { attainment: '0.87' } }],
    });
    expect(up.results[0]!.properties.attainment).toBe('0.87');
    expect((await client.crm.schemas.coreApi.getAll()).results.map((s) => s.name)).toContain('scorecard');

    const owners = await client.crm.owners.ownersApi.getPage(undefined, undefined, 500, false);
    expect(owners.results.every((o) => o.userId !== undefined)).toBe(true);
    const archived = await client.crm.owners.ownersApi.getPage(undefined, undefined, 500, true);
    expect(archived.results.length).toBeGreaterThan(0);
    expect(archived.results[0]!.userId ?? null).toBeNull();
    expect(archived.results[0]!.userIdIncludingInactive).toBeGreaterThan(0);
    const teams = await client.settings.users.teamsApi.getAll();
    expect(teams.results.length).toBe(sb.org!.teams.length);

    const pipes = await client.crm.pipelines.pipelinesApi.getAll('deals');
    expect(pipes.results.length).toBe(3);
    const numeric = pipes.results.find((p) => p.id !== 'default')!;
    expect(numeric.stages[0]!.id).toMatch(/^\d+$/);
    expect(numeric.stages.map((s) => s.metadata?.isClosed)).toContain('true');
    expect(numeric.stages.find((s) => s.metadata?.probability === '1.0')?.label).not.toBe('Closed Won');

    const rates = (await (
      await client.apiRequest({ method: 'GET', path: '/settings/v3/currencies/exchange-rates/current' })
    ).json()) as {
      results: { toCurrencyCode: string; conversionRate: string }[];
    };
    const eur = rates.results.find((r) => r.toCurrencyCode === 'EUR')!;
    const deal = [...sb.store.scan('deals')].find(
      (d) => d.props.deal_currency_code === 'EUR' && d.props.hs_is_closed === 'false' && d.props.amount,
    )!;
    const expected = Number(deal.props.amount) / Number(eur.conversionRate);
    expect(Number(deal.props.amount_in_home_currency)).toBeCloseTo(expected, 4);
    const usage = (await (
      await client.apiRequest({ method: 'GET', path: '/account-info/v3/api-usage/daily/private-apps' })
    ).json()) as {
      results: { usageLimit: number; currentUsage: number }[];
    };
    expect(usage.results[0]!.usageLimit).toBe(1_000_000);
    expect(usage.results[0]!.currentUsage).toBeGreaterThan(10);
  });

  it('refuses a wrong token with 401 and HubSpot body; exchanges the OAuth refresh token for an access token', async () => {
    const bad = await failure(clientFor(sb, 'pat-na1-wrong').crm.deals.basicApi.getPage(1));
    expect(bad.code).toBe(401);
    expect(bad.body).toMatchObject({ status: 'error', category: 'INVALID_AUTHENTICATION' });
    const tokens = await new Client({ basePath: sb.url }).oauth.tokensApi.create(
      'refresh_token',
      undefined,
      undefined,
      sb.credentials.clientId,
      sb.credentials.clientSecret,
      sb.credentials.refreshToken,
    );
    expect(tokens.expiresIn).toBe(1800);
    const oauth = clientFor(sb, tokens.accessToken);
    const res = await oauth.apiRequest({ method: 'GET', path: '/crm/v3/objects/deals?limit=1' });
    expect(res.headers.get('x-hubspot-ratelimit-max')).toBe('110');
    expect(res.headers.get('x-hubspot-ratelimit-daily')).toBeNull();
    await admin(sb, 'POST', 'tokens/expire');
    expect((await failure(oauth.crm.deals.basicApi.getPage(1))).body).toMatchObject({
      category: 'EXPIRED_AUTHENTICATION',
    });
    const wrongRefresh = await failure(
      new Client({ basePath: sb.url }).oauth.tokensApi.create(
        'refresh_token',
        undefined,
        undefined,
        sb.credentials.clientId,
        sb.credentials.clientSecret,
        'nope',
      ),
    );
    expect(wrongRefresh.code).toBe(400);
  });
});

describe('test API', () => {
  it('serves the oracle: every figure for the org as of a date', async () => {
    const f = (await admin(sb, 'GET', `oracle?asOf=${ANCHOR}`)) as {
      period: { id: string };
      reps: Record<string, { attainment: string }>;
      org: { quota: string };
    };
    expect(f.period.id).toBe('FY2026-Q4');
    expect(Object.keys(f.reps).length).toBeGreaterThan(8);
    expect(Number(f.org.quota)).toBeGreaterThan(0);
    const bad = await fetch(`${sb.url}/__sandbox/oracle`, { headers: { 'x-sandbox-admin-token': 'wrong' } });
    expect(bad.status).toBe(401);
  });
});

describe('limits and faults', () => {
  it('answers TEN_SECONDLY_ROLLING 429s with headers past the burst limit, SECONDLY for search, DAILY past the day', async () => {
    const s = await startHubSpotSandbox({
      seed: 7,
      size: 'small',
      anchorDate: ANCHOR,
      rateLimits: { tenSecondly: 5, daily: 9, searchPerSecond: 2 },
    });
    try {
      const c = clientFor(s);
      const res = await c.apiRequest({ method: 'GET', path: '/crm/v3/objects/deals?limit=1' });
      expect(res.headers.get('x-hubspot-ratelimit-max')).toBe('5');
      expect(res.headers.get('x-hubspot-ratelimit-remaining')).toBe('4');
      expect(res.headers.get('x-hubspot-ratelimit-interval-milliseconds')).toBe('10000');
      expect(res.headers.get('x-hubspot-ratelimit-daily')).toBe('9');
      for (let i = 0; i < 4; i++) await c.crm.deals.basicApi.getPage(1);
      const limited = await failure(c.crm.deals.basicApi.getPage(1));
      expect(limited.code).toBe(429);
      expect(limited.body).toMatchObject({
        status: 'error',
        errorType: 'RATE_LIMIT',
        policyName: 'TEN_SECONDLY_ROLLING',
      });
      const search = { filterGroups: [], sorts: [], properties: [], limit: 1, after: '0' };
      const sres = await c.apiRequest({ method: 'POST', path: '/crm/v3/objects/deals/search', body: search });
      expect(sres.headers.get('x-hubspot-ratelimit-max')).toBeNull();
      // Three at once against a limit of 2 a second: at least one is refused.
      const burst = await Promise.allSettled([1, 2, 3].map(() => c.crm.deals.searchApi.doSearch(search)));
      const refused = burst.filter((r) => r.status === 'rejected').map((r) => (r.reason as { body: unknown }).body);
      expect(refused.length).toBeGreaterThan(0);
      expect(refused[0]).toMatchObject({ policyName: 'SECONDLY' });
      // Use up the day (9 calls), pausing past each second's search limit.
      while (s.limiter.dailyUsed < 9) {
        await c.crm.deals.searchApi.doSearch(search).catch(() => new Promise((r) => setTimeout(r, 1100)));
      }
      expect(s.limiter.dailyUsed).toBe(9);
      expect((await failure(c.crm.deals.searchApi.doSearch(search))).body).toMatchObject({ policyName: 'DAILY' });
    } finally {
      await s.close();
    }
  }, 30_000);

  it('injects faults by call number and path, and logs calls with bodies and statuses', async () => {
    const s = await startHubSpotSandbox({ seed: 8, size: 'small', anchorDate: ANCHOR });
    try {
      const c = clientFor(s);
      await admin(s, 'POST', 'faults', {
        kind: 'bad_gateway_502',
        path: '/crm/v3/objects/deals/search',
        skip: 1,
        count: 1,
      });
      await admin(s, 'POST', 'faults', { kind: 'rate_limit_429', path: '/crm/v3/owners', count: 1 });
      await admin(s, 'POST', 'faults', { kind: 'reset', path: '/crm/v3/pipelines', count: 1 });
      const search = { filterGroups: [], sorts: [], properties: [], limit: 1, after: '0' };
      await c.crm.deals.searchApi.doSearch(search);
      const html = await c.apiRequest({ method: 'POST', path: '/crm/v3/objects/deals/search', body: search });
      expect(html.status).toBe(502);
      expect(html.headers.get('content-type')).toContain('text/html');
      await c.crm.deals.searchApi.doSearch(search);
      expect((await failure(c.crm.owners.ownersApi.getPage())).body).toMatchObject({
        policyName: 'TEN_SECONDLY_ROLLING',
      });
      await expect(c.crm.pipelines.pipelinesApi.getAll('deals')).rejects.toThrow();
      expect((await c.crm.pipelines.pipelinesApi.getAll('deals')).results).toHaveLength(3);
      const log = (await admin(s, 'GET', 'log')) as {
        path: string;
        status: number;
        fault?: string;
        requestBody?: unknown;
      }[];
      const searches = log.filter((e) => e.path.endsWith('/search'));
      expect(searches.map((e) => e.status)).toEqual([200, 502, 200]);
      expect(searches[1]!.fault).toBe('bad_gateway_502');
      expect(searches[0]!.requestBody).toMatchObject({ limit: 1 });
      expect(log.find((e) => e.fault === 'reset')).toBeDefined();
    } finally {
      await s.close();
    }
  });

  it('answers 403 to a custom object schema on the no-custom-objects profile', async () => {
    const s = await startHubSpotSandbox({
      seed: 9,
      size: 'small',
      anchorDate: ANCHOR,
      populate: false,
      profile: 'no-custom-objects',
    });
    try {
      const denied = await failure(
        clientFor(s).crm.schemas.coreApi.create({
          name: 'scorecard',
          labels: { singular: 'Scorecard', plural: 'Scorecards' },
          primaryDisplayProperty: 'key',
          requiredProperties: [],
          properties: [{ name: 'key', label: 'Key', type: 'string' as never }],
          associatedObjects: [],
        } as never),
      );
      expect(denied.code).toBe(403);
      expect(denied.body).toMatchObject({ status: 'error', category: 'MISSING_SCOPES' });
    } finally {
      await s.close();
    }
  });
});
