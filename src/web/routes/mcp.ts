/**
 * `/mcp`: tools for AI agents over the Model Context Protocol (the official TypeScript SDK, Streamable HTTP,
 * stateless: every POST carries its own token, so there is no MCP session to hijack). The tools are read-only and
 * answer from the same read model and under the same reach as the reports API: what a token may not see is a tool
 * error with code AUTH_FORBIDDEN and status 403, not a silent empty answer. Without a token, or with a bad one,
 * the HTTP answer is 401 before any MCP message is read.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Database } from '../../db/schema.ts';
import { AppError, ERROR_CODES, isAppError } from '../../errors.ts';
import type { JsonObject } from '../../metrics/document.ts';
import { LEADERBOARD_METRICS } from '../../reports/leaderboard-options.ts';
import type { ReportReader } from '../../reports/read-model.ts';
import type { ReportRequest } from '../../reports/report.ts';
import type { RouteModule } from '../policy.ts';
import type { Principal } from '../tokens.ts';
import { readerOf, scopedReport } from './reports.ts';

/** Status bands below "likely to hit": the reps a manager should look at first. */
export const AT_RISK_STATUSES = ['at_risk', 'likely_miss', 'significant_gap', 'major_gap'] as const;

const HTTP_STATUS: Partial<Record<string, number>> = {
  AUTH_FORBIDDEN: 403,
  NOT_FOUND: 404,
  USAGE: 400,
  CALENDAR_INVALID: 400,
};

const when = {
  period: z.string().optional().describe('fiscal period id like FY2026-Q4 (default: the quarter containing asOf)'),
  asOf: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/)
    .optional()
    .describe('as-of date YYYY-MM-DD (default: today in the configured time zone)'),
};
const scope = {
  team: z.string().optional().describe('a team by name'),
  region: z.string().optional().describe('a region by name (ignored when team is given)'),
};

const READ_ONLY = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };

function ok(value: JsonObject): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(value) }], structuredContent: value };
}

function failure(e: unknown): CallToolResult {
  if (isAppError(e) && e.code in ERROR_CODES && e.code !== 'INTERNAL') {
    const error = { code: e.code, status: HTTP_STATUS[e.code] ?? 500, message: e.toUserString() };
    return {
      isError: true,
      content: [{ type: 'text', text: JSON.stringify({ error }) }],
      structuredContent: { error },
    };
  }
  throw e;
}

function pick<T extends Record<string, unknown>>(o: T): Partial<ReportRequest> {
  const out: Partial<ReportRequest> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** A fresh MCP server whose tools act as this principal. */
export function agentServer(reader: ReportReader, db: Kysely<Database>, principal: Principal): McpServer {
  const server = new McpServer(
    { name: 'quota-tracker', version: '1.0.0' },
    {
      instructions:
        'Quota attainment figures of the sales org, scoped to the token: reps see their own scorecard and the leaderboard, managers their teams, admins everything. Money is in the base currency as decimal strings; ratios are decimal strings (0.8700 = 87%).',
    },
  );
  const report = async (req: ReportRequest): Promise<JsonObject> =>
    (await scopedReport(reader, principal, req, db)).doc;
  const run = async (f: () => Promise<JsonObject>): Promise<CallToolResult> => {
    try {
      return ok(await f());
    } catch (e) {
      return failure(e);
    }
  };

  server.registerTool(
    'rep_scorecard',
    {
      title: "A rep's scorecard",
      description:
        'Quota, actual, attainment, pacing, projection, pipeline and coverage, win rate, activity, commission, ranks, open alerts and history of one rep (the document of `report rep --format json`).',
      inputSchema: { rep: z.string().describe("the rep's email"), ...when },
      annotations: READ_ONLY,
    },
    (a) => run(() => report({ kind: 'rep', ...pick(a) } as ReportRequest)),
  );

  server.registerTool(
    'team_dashboard',
    {
      title: "A team's dashboard",
      description:
        "A team's totals, each rep's figures, people who left during the period and the reps' open alerts (`report team --format json`).",
      inputSchema: { team: z.string().describe('the team by name'), ...when },
      annotations: READ_ONLY,
    },
    (a) => run(() => report({ kind: 'team', ...pick(a) } as ReportRequest)),
  );

  server.registerTool(
    'at_risk_reps',
    {
      title: 'Reps at risk of missing quota',
      description: `Reps of a team, a region or the org whose projected attainment puts them in the bands ${AT_RISK_STATUSES.join(', ')}, lowest projection first, with quota, actual, attainment and projection. Only reps the token may see.`,
      inputSchema: { ...scope, ...when },
      annotations: READ_ONLY,
    },
    (a) =>
      run(async () => {
        const board = await report({ kind: 'leaderboard', ...pick(a) } as ReportRequest);
        const entries = (board.entries as JsonObject[]).filter((e) =>
          (AT_RISK_STATUSES as readonly string[]).includes(String(e.status)),
        );
        entries.sort((x, y) => Number(x.projectedAttainment) - Number(y.projectedAttainment));
        return { period: board.period ?? null, asOf: board.asOf ?? null, scope: board.scope ?? null, reps: entries };
      }),
  );

  server.registerTool(
    'leaderboard',
    {
      title: 'Leaderboard',
      description:
        "Reps of the org, a team or a region ranked by attainment or another metric (`report leaderboard --format json`); reps outside the token's reach show name and rank only.",
      inputSchema: {
        ...scope,
        metric: z
          .enum(LEADERBOARD_METRICS)
          .optional()
          .describe('what the reps are ranked by (`--metric`, default attainment)'),
        ...when,
      },
      annotations: READ_ONLY,
    },
    (a) => run(() => report({ kind: 'leaderboard', ...pick(a) } as ReportRequest)),
  );

  server.registerTool(
    'explain_figure',
    {
      title: 'Explain a figure',
      description:
        'How a figure of a rep or a team was worked out: its formula, the working with the numbers, and the deals summed (`report --explain`). Figures by their JSON path: attainment, expectedToDate, currentRunRate, projectedTotal, pipeline.coverage, winRate, velocity, activities.score, forecast, forecast.probabilityToHitQuota, commission.atP50, rank, history and the others of `explain.figures`.',
      inputSchema: {
        figure: z.string().describe('the figure, e.g. attainment, projected, coverage, winRate'),
        rep: z.string().optional().describe("the rep's email (or give team)"),
        team: z.string().optional().describe('the team by name (or give rep)'),
        ...when,
      },
      annotations: READ_ONLY,
    },
    (a) =>
      run(async () => {
        const { figure, ...rest } = a;
        const kind = rest.rep !== undefined ? 'rep' : 'team';
        const doc = await report({ kind, ...pick(rest), explain: true } as ReportRequest);
        const holder = kind === 'rep' ? doc : (doc.totals as JsonObject);
        const explain = ((holder.explain as JsonObject | undefined)?.figures ?? {}) as JsonObject;
        const working = explain[figure] as JsonObject | undefined;
        if (working === undefined) {
          const known = Object.keys(explain).sort().join(', ');
          throw new AppError('USAGE', `no figure "${figure}"; figures: ${known}`, { where: 'figure' });
        }
        return {
          subject: holder.subject ?? null,
          period: doc.period ?? null,
          asOf: doc.asOf ?? null,
          figure,
          value: working.value ?? null,
          explanation: working,
        };
      }),
  );
  return server;
}

export const mcpRoutes: RouteModule = (r) => {
  for (const method of ['POST', 'GET', 'DELETE'] as const) {
    r.route({
      method,
      path: '/mcp',
      policy: 'rep',
      doc: {
        summary:
          method === 'POST'
            ? 'MCP (Streamable HTTP, protocol 2025-06-18): read-only tools rep_scorecard, team_dashboard, at_risk_reps, leaderboard, explain_figure, scoped to the token.'
            : 'MCP: this server is stateless, so there is no stream to open or session to end (405).',
        tags: ['agents'],
      },
      handler: async (c) => {
        // Stateless: there is no server-initiated stream to open (GET) and no session to end (DELETE).
        if (method !== 'POST') {
          c.header('Allow', 'POST');
          return c.json(
            {
              jsonrpc: '2.0',
              error: { code: -32000, message: 'this MCP server is stateless: POST each message' },
              id: null,
            },
            405,
          );
        }
        const server = agentServer(readerOf(c), c.var.db, c.var.principal as Principal);
        // Stateless, with JSON answers: each request is complete in itself.
        const transport = new WebStandardStreamableHTTPServerTransport({
          sessionIdGenerator: undefined,
          enableJsonResponse: true,
        });
        await server.connect(transport);
        try {
          return await transport.handleRequest(c.req.raw);
        } finally {
          // The answer is complete (JSON mode): release the server and transport of this request.
          void server.close();
        }
      },
    });
  }
};
