/**
 * Access policies. Every route is registered with one, through `RouteRegistrar.route`; a route without a valid
 * policy fails app creation with ROUTE_WITHOUT_POLICY, so an endpoint can never be public by omission.
 *
 * - `public`: anyone (health checks).
 * - `admin`: admin tokens only.
 * - `manager`: manager and admin tokens; with a `subject`, a manager sees only people in their subtree.
 * - `rep`: any token; with a `subject`, a rep sees only themselves, a manager their subtree, an admin everyone.
 * - `signed-webhook`: no token; the route's `verify` checks the request's signature over the raw body.
 */
import type { Context, Env } from 'hono';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { Database } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import type { ReportReader } from '../reports/read-model.ts';
import { today } from '../util/date.ts';
import type { Logger } from '../util/log.ts';
import type { Principal } from './tokens.ts';

export const ACCESS_POLICIES = ['public', 'admin', 'manager', 'rep', 'signed-webhook'] as const;
export type AccessPolicy = (typeof ACCESS_POLICIES)[number];

export interface WebEnv extends Env {
  Variables: {
    db: Kysely<Database>;
    logger: Logger;
    /** Set by the policy check for token-authenticated routes; null on public and webhook routes. */
    principal: Principal | null;
    /** The report read model; null when the app was built without a config (then report routes answer 503). */
    reports: ReportReader | null;
    /** What the running service adds to /readyz (the job queue and its schedules), when it runs one. */
    readiness: ReadinessCheck | undefined;
    /** `web.publicUrl` of the config: an https one makes the session cookie Secure. */
    publicUrl: string | undefined;
    /** The client's address for the sign-in limiter (`web.trustProxy` decides whether a proxy's header counts). */
    clientAddress: string;
  };
}

export type WebContext = Context<WebEnv>;

/** One more reason not to be ready, or null: `reason` is a stable key, `message` a sentence for the operator. */
export type ReadinessCheck = () => Promise<{ reason: string; message: string; [detail: string]: unknown } | null>;
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Checks a webhook's signature; `rawBody` is the exact request body as received. */
export type WebhookVerifier = (request: Request, rawBody: string) => boolean | Promise<boolean>;

export interface RouteDef {
  method: HttpMethod;
  /** Hono path, e.g. `/api/v1/reps/:email`. */
  path: string;
  policy: AccessPolicy;
  handler: (c: WebContext) => Response | Promise<Response>;
  /** For `manager` and `rep`: the email of the person the request is about, checked against the principal. */
  subject?: (c: WebContext) => string | undefined;
  /** Required for `signed-webhook`. */
  verify?: WebhookVerifier;
  /** What the OpenAPI document says of the route. */
  doc?: RouteDoc;
}

/** A route's description for `/api/v1/openapi.json`. */
export interface RouteDoc {
  summary: string;
  description?: string;
  tags?: string[];
  query?: { name: string; description: string; required?: boolean; schema?: Record<string, unknown> }[];
  /** The media type of a 200 answer; default application/json. */
  produces?: string;
}

export interface RouteRegistrar {
  route(def: RouteDef): void;
}

/** A group of routes (health, API v1, dashboard, webhooks) added by `createWebApp`. */
export type RouteModule = (r: RouteRegistrar) => void;

/** Throws ROUTE_WITHOUT_POLICY unless the route has a known policy (and a verifier for signed webhooks). */
export function assertRoutePolicy(def: RouteDef): void {
  const where = `${String(def.method)} ${String(def.path)}`;
  if (!ACCESS_POLICIES.includes(def.policy)) {
    throw new AppError(
      'ROUTE_WITHOUT_POLICY',
      `route ${where} has no access policy (got ${JSON.stringify(def.policy)}; expected one of ${ACCESS_POLICIES.join(', ')})`,
      { where },
    );
  }
  if (def.policy === 'signed-webhook' && typeof def.verify !== 'function') {
    throw new AppError('ROUTE_WITHOUT_POLICY', `signed-webhook route ${where} has no signature verifier`, { where });
  }
}

const ROLES_ALLOWED: Record<Exclude<AccessPolicy, 'public' | 'signed-webhook'>, readonly Principal['role'][]> = {
  admin: ['admin'],
  manager: ['admin', 'manager'],
  rep: ['admin', 'manager', 'rep'],
};

/** Whether a manager (by email) is responsible for a person (by email) today. */
export interface SubtreeResolver {
  isInSubtree(managerEmail: string, subjectEmail: string): Promise<boolean>;
}

/**
 * The org tree in the warehouse: a manager's subtree is every org unit they manage and the units below it, and a
 * person is in it when they are a current member of one of those units.
 */
export function databaseSubtree(db: Kysely<Database>, timeZone = 'UTC'): SubtreeResolver {
  return {
    async isInSubtree(managerEmail, subjectEmail) {
      const day = today(timeZone);
      const result = await sql<{ found: number }>`
        with recursive units as (
          select ou.id from org_units ou join persons p on p.id = ou.manager_person_id
          where lower(p.email) = lower(${managerEmail})
          union
          select child.id from org_units child join units on child.parent_id = units.id
        )
        select 1 as found from memberships m join persons p on p.id = m.person_id
        where m.org_unit_id in (select id from units) and lower(p.email) = lower(${subjectEmail})
          and m.valid_from <= ${day} and (m.valid_to is null or m.valid_to > ${day})
        limit 1`.execute(db);
      return result.rows.length > 0;
    },
  };
}

/**
 * Decides whether the principal may call a route about a subject; throws AUTH_FORBIDDEN (403) otherwise.
 * The caller has already turned a missing or bad token into AUTH_REQUIRED (401).
 */
export async function checkAccess(
  policy: Exclude<AccessPolicy, 'public' | 'signed-webhook'>,
  principal: Principal,
  subject: string | undefined,
  subtree: SubtreeResolver,
): Promise<void> {
  if (!ROLES_ALLOWED[policy].includes(principal.role)) {
    throw new AppError(
      'AUTH_FORBIDDEN',
      `this endpoint needs a ${policy} token; this token's role is ${principal.role}`,
    );
  }
  if (subject === undefined || principal.role === 'admin') return;
  const who = subject.trim().toLowerCase();
  const self = principal.subjectEmail;
  if (self !== null && who === self) return;
  if (principal.role === 'manager' && self !== null && (await subtree.isInSubtree(self, who))) return;
  throw new AppError('AUTH_FORBIDDEN', `this token may not see ${who}`, { where: who });
}
