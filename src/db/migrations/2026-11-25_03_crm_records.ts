/**
 * The CRM records the metrics are computed from: deals with their stage history, line items and splits,
 * activities, leads, quotas, FX rates and the CRM's fiscal periods. Amounts are stored in their native currency;
 * the metrics engine converts them.
 *
 * Indexes follow the metric queries: won deals by owner and close date (actual, run rate, win rate), open deals by
 * close date (pipeline), activities by owner and date, history by deal, quotas by person or owner and period.
 */
import type { Kysely } from 'kysely';
import { run, SYNCED_COLUMNS } from './sql.ts';

const CURRENCY = `text NOT NULL CHECK (currency ~ '^[A-Z]{3}$')`;

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function up(db: Kysely<any>): Promise<void> {
  await run(db, [
    `CREATE TABLE deals (
      ${SYNCED_COLUMNS},
      name text,
      owner_external_id text,
      amount numeric,
      currency ${CURRENCY},
      stage text NOT NULL,
      stage_category text NOT NULL CHECK (stage_category IN ('open', 'won', 'lost')),
      forecast_category text,
      probability numeric CHECK (probability >= 0 AND probability <= 1),
      close_date date,
      created_date date NOT NULL,
      deal_type text,
      product_line text,
      segment text,
      pipeline text,
      account_external_id text,
      account_name text,
      PRIMARY KEY (connection_id, external_id)
    )`,
    // connection_id leads because owner ids are only unique within one CRM connection.
    'CREATE INDEX deals_owner_close_idx ON deals (connection_id, owner_external_id, close_date)',
    'CREATE INDEX deals_category_close_idx ON deals (stage_category, close_date)',
    `CREATE TABLE deal_stage_history (
      ${SYNCED_COLUMNS},
      deal_external_id text NOT NULL,
      stage text NOT NULL,
      stage_category text NOT NULL CHECK (stage_category IN ('open', 'won', 'lost')),
      amount numeric,
      close_date date,
      probability numeric CHECK (probability >= 0 AND probability <= 1),
      forecast_category text,
      changed_at timestamptz NOT NULL,
      PRIMARY KEY (connection_id, external_id)
    )`,
    'CREATE INDEX deal_stage_history_deal_idx ON deal_stage_history (connection_id, deal_external_id, changed_at)',
    `CREATE TABLE deal_line_items (
      ${SYNCED_COLUMNS},
      deal_external_id text NOT NULL,
      product_name text,
      product_family text,
      quantity numeric,
      amount numeric,
      PRIMARY KEY (connection_id, external_id)
    )`,
    'CREATE INDEX deal_line_items_deal_idx ON deal_line_items (connection_id, deal_external_id)',
    `CREATE TABLE deal_splits (
      ${SYNCED_COLUMNS},
      deal_external_id text NOT NULL,
      owner_external_id text NOT NULL,
      split_percent numeric NOT NULL CHECK (split_percent >= 0),
      split_amount numeric,
      split_type text,
      is_overlay boolean NOT NULL DEFAULT false,
      PRIMARY KEY (connection_id, external_id)
    )`,
    'CREATE INDEX deal_splits_deal_idx ON deal_splits (connection_id, deal_external_id)',
    'CREATE INDEX deal_splits_owner_idx ON deal_splits (connection_id, owner_external_id)',
    `CREATE TABLE activities (
      ${SYNCED_COLUMNS},
      kind text NOT NULL CHECK (kind IN ('task', 'event')),
      owner_external_id text,
      activity_type text NOT NULL
        CHECK (activity_type IN ('call', 'meeting', 'email', 'task', 'proposal', 'other')),
      subtype text,
      activity_date date NOT NULL,
      is_completed boolean,
      deal_external_id text,
      PRIMARY KEY (connection_id, external_id)
    )`,
    'CREATE INDEX activities_owner_date_idx ON activities (connection_id, owner_external_id, activity_date)',
    'CREATE INDEX activities_deal_idx ON activities (connection_id, deal_external_id)',
    `CREATE TABLE leads (
      ${SYNCED_COLUMNS},
      owner_external_id text,
      created_date date NOT NULL,
      status text,
      is_converted boolean NOT NULL DEFAULT false,
      converted_date date,
      converted_deal_external_id text,
      PRIMARY KEY (connection_id, external_id)
    )`,
    'CREATE INDEX leads_owner_created_idx ON leads (connection_id, owner_external_id, created_date)',
    // A quota comes from a CRM (keyed by its record there, assigned to a CRM owner) or from RevOps' file (keyed
    // by person and period). It belongs to a person, a CRM owner or an org unit (a team quota set by RevOps).
    `CREATE TABLE quotas (
      id bigserial PRIMARY KEY,
      source text NOT NULL CHECK (source IN ('crm', 'file')),
      connection_id text REFERENCES connections(id) ON DELETE CASCADE,
      external_id text,
      person_id bigint REFERENCES persons(id) ON DELETE CASCADE,
      owner_external_id text,
      org_unit_id bigint REFERENCES org_units(id) ON DELETE CASCADE,
      period_start date NOT NULL,
      period_end date NOT NULL,
      amount numeric NOT NULL CHECK (amount >= 0),
      currency ${CURRENCY},
      product_line text,
      source_modified_at timestamptz,
      content_hash text,
      is_deleted boolean NOT NULL DEFAULT false,
      deleted_at timestamptz,
      last_seen_run_id bigint,
      synced_at timestamptz NOT NULL DEFAULT now(), -- wall-clock: when the row was written
      CHECK (period_end >= period_start),
      CHECK (person_id IS NOT NULL OR owner_external_id IS NOT NULL OR org_unit_id IS NOT NULL),
      CHECK (source <> 'crm' OR (connection_id IS NOT NULL AND external_id IS NOT NULL AND content_hash IS NOT NULL))
    )`,
    'CREATE UNIQUE INDEX quotas_crm_uq ON quotas (connection_id, external_id) WHERE external_id IS NOT NULL',
    `CREATE UNIQUE INDEX quotas_file_uq ON quotas
      (coalesce(person_id, 0), coalesce(org_unit_id, 0), period_start, period_end, coalesce(product_line, ''))
      WHERE source = 'file'`,
    'CREATE INDEX quotas_person_period_idx ON quotas (person_id, period_start)',
    'CREATE INDEX quotas_owner_period_idx ON quotas (connection_id, owner_external_id, period_start)',
    'CREATE INDEX quotas_unit_period_idx ON quotas (org_unit_id, period_start)',
    // rate = units of that currency per 1 unit of the base currency (Salesforce's ConversionRate).
    `CREATE TABLE fx_rates (
      id bigserial PRIMARY KEY,
      connection_id text REFERENCES connections(id) ON DELETE CASCADE,
      external_id text,
      currency ${CURRENCY},
      rate numeric NOT NULL CHECK (rate > 0),
      valid_from date NOT NULL,
      valid_to date,
      source text NOT NULL CHECK (source IN ('crm_dated', 'crm_static', 'file')),
      source_modified_at timestamptz,
      synced_at timestamptz NOT NULL DEFAULT now(), -- wall-clock: when the row was written
      CHECK (valid_to IS NULL OR valid_to > valid_from),
      UNIQUE NULLS NOT DISTINCT (connection_id, source, currency, valid_from)
    )`,
    'CREATE INDEX fx_rates_lookup_idx ON fx_rates (currency, valid_from)',
    `CREATE TABLE crm_fiscal_periods (
      ${SYNCED_COLUMNS},
      period_type text NOT NULL,
      start_date date NOT NULL,
      end_date date NOT NULL,
      fiscal_year integer,
      number integer,
      PRIMARY KEY (connection_id, external_id)
    )`,
  ]);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function down(db: Kysely<any>): Promise<void> {
  await run(db, [
    'DROP TABLE crm_fiscal_periods',
    'DROP TABLE fx_rates',
    'DROP TABLE quotas',
    'DROP TABLE leads',
    'DROP TABLE activities',
    'DROP TABLE deal_splits',
    'DROP TABLE deal_line_items',
    'DROP TABLE deal_stage_history',
    'DROP TABLE deals',
  ]);
}
