/**
 * The benches' generated warehouse (and the sharded recompute tests' small org): reps in teams of ten under regions
 * of ten teams, dated memberships, eight quarters of quotas, EUR deals at dated rates and activities, generated
 * straight into a database because the sandbox sync is not what those benches measure.
 */
import { type Kysely, sql } from 'kysely';
import type { Database } from '../src/db/schema.ts';

/** The as-of date the generated figures are meant to be read at (deals after it are open). */
export const WAREHOUSE_AS_OF = '2026-06-12';

export interface WarehouseSize {
  reps: number;
  deals: number;
  activities: number;
  /**
   * Teams, and regions of ten teams. Default: ten reps a team, at least 50 teams in 5 regions (what `medium` has,
   * and what the sharded recompute tests were written against).
   */
  teams?: number;
}

/** `medium`: 500 reps in 50 teams and 5 regions, 100,000 deals, 150,000 activities. */
export const MEDIUM: WarehouseSize = { reps: 500, deals: 100_000, activities: 150_000 };

/** Fills the warehouse with deterministic pseudo-random rows (PostgreSQL's setseed). */
export async function generateWarehouse(db: Kysely<Database>, size: WarehouseSize = MEDIUM): Promise<void> {
  const { reps: REPS, deals: DEALS } = size;
  const AS_OF = WAREHOUSE_AS_OF;
  // Ten reps a team (at least 50 teams, what `medium` and the sharded tests have) unless told.
  const TEAMS = size.teams ?? Math.max(50, Math.ceil(REPS / 10));
  const REGIONS = Math.max(1, Math.ceil(TEAMS / 10));
  // lpad cuts a longer number to the width: widths grow with the counts (medium keeps its 3 and 6).
  const repW = Math.max(3, String(REPS).length);
  const teamW = Math.max(2, String(TEAMS).length);
  const dealW = Math.max(6, String(DEALS).length);
  if (REPS > 9999) throw new Error('the generator names owners with four digits: at most 9,999 reps');
  const s = (q: string) => sql.raw(q).execute(db);
  await s(`select setseed(0.42)`);
  await s(`insert into connections (id, kind) values ('sf', 'salesforce')`);
  await s(
    `insert into persons (id, email, name) select i, 'rep' || i || '@example.com', 'Rep ' || lpad(i::text, ${repW}, '0') from generate_series(1, ${REPS}) i`,
  );
  await s(`select setval(pg_get_serial_sequence('persons', 'id'), ${REPS})`);
  await s(`insert into reps (connection_id, external_id, content_hash, person_id, name, email, is_active, start_date, quota_carrying)
           select 'sf', '005R' || lpad(i::text, 4, '0'), 'h', i, 'Rep ' || lpad(i::text, ${repW}, '0'), 'rep' || i || '@example.com', true,
                  date '2020-01-06' + (i * 3) % 2000, true from generate_series(1, ${REPS}) i`);
  await s(`insert into org_units (id, kind, name, parent_id, source) values (1, 'org', 'Medium Org', null, 'file')`);
  await s(
    `insert into org_units (id, kind, name, parent_id, source) select 1 + r, 'region', 'Region ' || r, 1, 'file' from generate_series(1, ${REGIONS}) r`,
  );
  await s(
    `insert into org_units (id, kind, name, parent_id, source) select ${1 + REGIONS} + t, 'team', 'Team ' || lpad(t::text, ${teamW}, '0'), 2 + (t - 1) / 10, 'file' from generate_series(1, ${TEAMS}) t`,
  );
  await s(`select setval(pg_get_serial_sequence('org_units', 'id'), ${1 + REGIONS + TEAMS})`);
  // Ten reps a team; every 25th rep moved teams on 2026-05-01, so dated membership is exercised.
  await s(`insert into memberships (person_id, org_unit_id, valid_from, valid_to, source)
           select i, ${2 + REGIONS} + (i - 1) / 10, date '2020-01-01', case when i % 25 = 0 then date '2026-05-01' end, 'file' from generate_series(1, ${REPS}) i`);
  await s(`insert into memberships (person_id, org_unit_id, valid_from, valid_to, source)
           select i, ${2 + REGIONS} + ((i - 1) / 10 + 1) % ${TEAMS}, date '2026-05-01', null, 'file' from generate_series(1, ${REPS}) i where i % 25 = 0`);
  await s(`insert into fx_rates (connection_id, currency, rate, valid_from, valid_to, source) values
           ('sf', 'EUR', 0.92, '2024-01-01', '2026-06-01', 'crm_dated'), ('sf', 'EUR', 0.90, '2026-06-01', null, 'crm_dated')`);
  await s(`insert into quotas (source, connection_id, external_id, owner_external_id, period_start, period_end, amount, currency, content_hash)
           select 'crm', 'sf', 'Q' || i || '-' || q, '005R' || lpad(i::text, 4, '0'), (date '2025-01-01' + make_interval(months => 3 * q))::date,
                  (date '2025-01-01' + make_interval(months => 3 * q + 3) - interval '1 day')::date, 600000, 'USD', 'h'
           from generate_series(1, ${REPS}) i, generate_series(0, 7) q`);
  await s(`insert into deals (connection_id, external_id, content_hash, name, owner_external_id, amount, currency, stage, stage_category,
                              probability, close_date, created_date)
           select 'sf', '006D' || lpad(n::text, ${dealW}, '0'), 'h', 'Deal ' || n, '005R' || lpad((1 + (n::bigint * 7919) % ${REPS})::text, 4, '0'),
                  round((5000 + random() * 145000)::numeric, 2), case when random() < 0.1 then 'EUR' else 'USD' end,
                  case when c < date '${AS_OF}' then (case when r < 0.35 then 'Closed Won' when r < 0.92 then 'Closed Lost' else 'Proposal' end)
                       else (case when r < 0.5 then 'Qualification' else 'Negotiation' end) end,
                  case when c < date '${AS_OF}' then (case when r < 0.35 then 'won' when r < 0.92 then 'lost' else 'open' end) else 'open' end,
                  case when c < date '${AS_OF}' then (case when r < 0.35 then 1 when r < 0.92 then 0 else 0.4 end) else (case when r < 0.5 then 0.2 else 0.6 end) end,
                  c, c - (30 + (random() * 90)::int)
           from (select n, random() as r, date '2024-07-01' + (random() * 820)::int as c from generate_series(1, ${DEALS}) n) g`);
  await s(`insert into activities (connection_id, external_id, content_hash, kind, owner_external_id, activity_type, activity_date)
           select 'sf', '00T' || n, 'h', 'task', '005R' || lpad((1 + n % ${REPS})::text, 4, '0'),
                  (array['call', 'call', 'email', 'email', 'meeting', 'task'])[1 + (random() * 5)::int], date '${AS_OF}' - (random() * 59)::int
           from generate_series(1, ${size.activities}) n`);
  await s('analyze');
}

/**
 * On a generated warehouse: every 9th deal split 60/40 with the next rep, deals and activities of two CRM users with
 * no rep row, and stage history (each deal opened at creation, closed deals closed on their close date) for the
 * forecast to learn from.
 */
export async function addSplitsOrphansAndHistory(db: Kysely<Database>, reps: number): Promise<void> {
  const size = { reps };
  const s = (q: string) => sql.raw(q).execute(db);
  // Every 9th deal split 60/40 with the rep next in line (most likely in another shard).
  await s(`insert into deal_splits (connection_id, external_id, content_hash, deal_external_id, owner_external_id, split_percent)
           select 'sf', 'SP' || d.external_id || s.n, 'h', d.external_id,
                  case when s.n = 1 then d.owner_external_id
                       else '005R' || lpad((1 + (substr(d.owner_external_id, 5)::int % ${size.reps}))::text, 4, '0') end,
                  case when s.n = 1 then 60 else 40 end
           from deals d, generate_series(1, 2) s(n) where substr(d.external_id, 5)::int % 9 = 0`);
  // Deals and activities of two CRM users with no rep row.
  await s(`update deals set owner_external_id = '005X' || (substr(external_id, 5)::int % 2)
           where substr(external_id, 5)::int % 97 = 0`);
  await s(`update activities set owner_external_id = '005X1' where substr(external_id, 4)::int % 101 = 0`);
  // Stage history: each deal opened at creation, and closed deals closed on their close date.
  await s(`insert into deal_stage_history (connection_id, external_id, content_hash, deal_external_id, stage, stage_category,
             amount, close_date, probability, changed_at)
           select 'sf', 'H1' || external_id, 'h', external_id, 'Qualification', 'open', amount, close_date, 0.2,
                  created_date::timestamp + interval '9 hours' from deals
           union all
           select 'sf', 'H2' || external_id, 'h', external_id, stage, stage_category, amount, close_date, probability,
                  close_date::timestamp + interval '9 hours' from deals where stage_category <> 'open' and close_date < '${WAREHOUSE_AS_OF}'`);
  await s('analyze');
}
