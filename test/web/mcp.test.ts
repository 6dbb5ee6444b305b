/**
 * `/mcp` driven by the official SDK's client over real HTTP, as each role: `initialize` with protocol 2025-06-18
 * answers 200, the tools are listed (read-only), and every tool is asked by every role under the same reach as
 * the reports API (generated from the server's tool list, so no tool can be left out): what a token may not see is
 * a tool error with status 403; no token is an HTTP 401.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.ts';
import { FailureLimiter } from '../../src/web/rate-limit.ts';
import { type RunningWebServer, startWebServer } from '../../src/web/server.ts';
import { createApiToken } from '../../src/web/tokens.ts';
import { goldenWarehouse } from '../fixtures/warehouse/load.ts';
import type { TestDatabase } from '../helpers/db.ts';

const config = validateConfig({ calendar: { timezone: 'America/New_York' }, forecast: { trials: 200 } });
const WHEN = { period: 'FY2026-Q2', asOf: '2026-06-12' };
const ROLES = ['admin', 'dana', 'mia', 'sarah', 'emily'] as const;
type Role = (typeof ROLES)[number];

let t: TestDatabase;
let server: RunningWebServer;
const token: Partial<Record<Role, string>> = {};

beforeAll(async () => {
  t = await goldenWarehouse();
  const mia = await t.db
    .insertInto('persons')
    .values({ email: 'mia.mid@example.com', name: 'Mia Ortiz' })
    .returning('id')
    .executeTakeFirstOrThrow();
  await t.db.updateTable('org_units').set({ manager_person_id: mia.id }).where('name', '=', 'West Mid').execute();
  token.admin = (await createApiToken(t.db, { role: 'admin' })).token;
  token.dana = (await createApiToken(t.db, { role: 'manager', subject: 'dana.manager@example.com' })).token;
  token.mia = (await createApiToken(t.db, { role: 'manager', subject: 'mia.mid@example.com' })).token;
  token.sarah = (await createApiToken(t.db, { role: 'rep', subject: 'sarah.chen@example.com' })).token;
  token.emily = (await createApiToken(t.db, { role: 'rep', subject: 'emily.white@example.com' })).token;
  server = await startWebServer({ db: t.db, config, port: 0, limiter: new FailureLimiter() });
}, 60_000);
afterAll(async () => {
  await server?.close();
  await t?.drop();
});

async function connect(role: Role): Promise<Client> {
  const client = new Client({ name: `test-${role}`, version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${token[role]}` } },
  });
  await client.connect(transport);
  return client;
}

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'curl', version: '1' } },
};

describe('/mcp', () => {
  it('answers initialize with protocol 2025-06-18 with 200, and 401 without a token', async () => {
    const post = (headers: Record<string, string>) =>
      fetch(`${server.url}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
        body: JSON.stringify(initialize),
      });
    const res = await post({ authorization: `Bearer ${token.sarah}` });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { result: { protocolVersion: string; serverInfo: { name: string } } };
    expect(body.result.protocolVersion).toBe('2025-06-18');
    expect(body.result.serverInfo.name).toBe('quota-tracker');
    const anonymous = await post({});
    expect(anonymous.status).toBe(401);
    const bad = await post({ authorization: 'Bearer qt_nope' });
    expect(bad.status).toBe(401);
  });

  it('lists its read-only tools to every role', async () => {
    for (const role of ROLES) {
      const client = await connect(role);
      const { tools } = await client.listTools();
      expect(tools.map((x) => x.name).sort()).toEqual(
        ['at_risk_reps', 'explain_figure', 'leaderboard', 'rep_scorecard', 'team_dashboard'].sort(),
      );
      for (const tool of tools) expect(tool.annotations?.readOnlyHint).toBe(true);
      await client.close();
    }
  });
});

type Outcome = 'ok' | 403;
const SARAH = { rep: 'sarah.chen@example.com', ...WHEN };
/** Every tool: the arguments asked and what each role gets. */
const TOOL_MATRIX: Record<string, { args: Record<string, string>; expect: Record<Role, Outcome> }[]> = {
  rep_scorecard: [
    { args: SARAH, expect: { admin: 'ok', dana: 'ok', mia: 403, sarah: 'ok', emily: 403 } },
    {
      args: { rep: 'emily.white@example.com', ...WHEN },
      expect: { admin: 'ok', dana: 'ok', mia: 'ok', sarah: 403, emily: 'ok' },
    },
  ],
  team_dashboard: [
    { args: { team: 'West Mid', ...WHEN }, expect: { admin: 'ok', dana: 'ok', mia: 'ok', sarah: 403, emily: 403 } },
    {
      args: { team: 'West Enterprise', ...WHEN },
      expect: { admin: 'ok', dana: 'ok', mia: 403, sarah: 403, emily: 403 },
    },
  ],
  at_risk_reps: [{ args: WHEN, expect: { admin: 'ok', dana: 'ok', mia: 'ok', sarah: 'ok', emily: 'ok' } }],
  leaderboard: [{ args: WHEN, expect: { admin: 'ok', dana: 'ok', mia: 'ok', sarah: 'ok', emily: 'ok' } }],
  explain_figure: [
    {
      args: { figure: 'attainment', ...SARAH },
      expect: { admin: 'ok', dana: 'ok', mia: 403, sarah: 'ok', emily: 403 },
    },
    {
      args: { figure: 'attainment', team: 'West Enterprise', ...WHEN },
      expect: { admin: 'ok', dana: 'ok', mia: 403, sarah: 403, emily: 403 },
    },
  ],
};

describe('the role-by-tool matrix', () => {
  it('gives every role the outcome of its row, on every tool the server lists', async () => {
    const wrong: string[] = [];
    for (const role of ROLES) {
      const client = await connect(role);
      const { tools } = await client.listTools();
      expect(Object.keys(TOOL_MATRIX).sort()).toEqual(tools.map((x) => x.name).sort());
      for (const tool of tools) {
        for (const row of TOOL_MATRIX[tool.name] ?? []) {
          const r = (await client.callTool({ name: tool.name, arguments: row.args })) as unknown as {
            isError?: boolean;
            structuredContent?: { error?: { status: number; code: string } };
          };
          const got: Outcome | number = r.isError ? (r.structuredContent?.error?.status ?? 500) : 'ok';
          if (got !== row.expect[role]) wrong.push(`${role} ${tool.name} ${JSON.stringify(row.args)}: ${got}`);
          if (got === 403) expect(r.structuredContent?.error?.code).toBe('AUTH_FORBIDDEN');
        }
      }
      await client.close();
    }
    expect(wrong).toEqual([]);
  }, 120_000);
});

describe('what the tools answer', () => {
  it('gives the scorecard the reports API gives, and explains a figure with its formula and deals', async () => {
    const client = await connect('sarah');
    const card = (await client.callTool({ name: 'rep_scorecard', arguments: SARAH })) as unknown as {
      structuredContent: Record<string, unknown>;
    };
    const api = await fetch(`${server.url}/api/v1/reports/rep?${new URLSearchParams(SARAH)}`, {
      headers: { authorization: `Bearer ${token.sarah}` },
    });
    expect(card.structuredContent).toEqual(await api.json());
    const explained = (await client.callTool({
      name: 'explain_figure',
      arguments: { figure: 'attainment', ...SARAH },
    })) as unknown as { structuredContent: { value: string; explanation: { formula: string; sums: unknown[] } } };
    expect(explained.structuredContent.value).toBe(card.structuredContent.attainment);
    expect(explained.structuredContent.explanation.formula).toMatch(/\S/);
    const unknown = (await client.callTool({
      name: 'explain_figure',
      arguments: { figure: 'luck', ...SARAH },
    })) as unknown as {
      isError: boolean;
      structuredContent: { error: { status: number; message: string } };
    };
    expect(unknown.isError).toBe(true);
    expect(unknown.structuredContent.error.message).toContain('attainment');
    // A rep's at-risk list holds themselves at most: others' statuses are not theirs to read.
    const risk = (await client.callTool({ name: 'at_risk_reps', arguments: WHEN })) as unknown as {
      structuredContent: { reps: { subject: { name: string } }[] };
    };
    for (const r of risk.structuredContent.reps) expect(r.subject.name).toBe('Sarah Chen');
    await client.close();
  });
});
