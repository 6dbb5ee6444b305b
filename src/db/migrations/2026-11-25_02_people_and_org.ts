/**
 * People and the organisation: one person per human across CRMs, the CRM users (reps) and role tree as synced,
 * the RevOps team/region tree and dated team membership.
 */
import type { Kysely } from 'kysely';
import { run, SYNCED_COLUMNS } from './sql.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function up(db: Kysely<any>): Promise<void> {
  await run(db, [
    // btree_gist lets an exclusion constraint combine "same person" (=) with "overlapping dates" (&&). It is a
    // trusted extension (PostgreSQL 13+), so a database owner without superuser may create it.
    'CREATE EXTENSION IF NOT EXISTS btree_gist',
    // The org file's per-person attributes (start date, territory, quota-carrying) live here because it wins over
    // every CRM the person appears in; null means "not given by the file, ask the CRM".
    `CREATE TABLE persons (
      id bigserial PRIMARY KEY,
      email text NOT NULL CHECK (email <> ''),
      name text,
      start_date date,
      territory text,
      territory_index numeric CHECK (territory_index > 0),
      quota_carrying boolean,
      source text NOT NULL DEFAULT 'crm' CHECK (source IN ('crm', 'file')),
      created_at timestamptz NOT NULL DEFAULT now(), -- wall-clock: when the row was written
      updated_at timestamptz NOT NULL DEFAULT now() -- wall-clock: when the row was written
    )`,
    'CREATE UNIQUE INDEX persons_email_uq ON persons (lower(email))',
    `CREATE TABLE reps (
      ${SYNCED_COLUMNS},
      person_id bigint REFERENCES persons(id) ON DELETE SET NULL,
      name text NOT NULL,
      email text,
      title text,
      role_external_id text,
      manager_external_id text,
      is_active boolean NOT NULL,
      start_date date,
      territory text,
      quota_carrying boolean NOT NULL DEFAULT true,
      currency text,
      PRIMARY KEY (connection_id, external_id)
    )`,
    'CREATE INDEX reps_person_idx ON reps (person_id)',
    'CREATE INDEX reps_email_idx ON reps (lower(email))',
    'CREATE INDEX reps_manager_idx ON reps (connection_id, manager_external_id)',
    'CREATE INDEX reps_role_idx ON reps (connection_id, role_external_id)',
    `CREATE TABLE crm_roles (
      ${SYNCED_COLUMNS},
      name text NOT NULL,
      parent_external_id text,
      PRIMARY KEY (connection_id, external_id)
    )`,
    'CREATE INDEX crm_roles_parent_idx ON crm_roles (connection_id, parent_external_id)',
    `CREATE TABLE org_units (
      id bigserial PRIMARY KEY,
      kind text NOT NULL CHECK (kind IN ('org', 'region', 'team')),
      name text NOT NULL,
      parent_id bigint REFERENCES org_units(id) ON DELETE SET NULL,
      manager_person_id bigint REFERENCES persons(id) ON DELETE SET NULL,
      source text NOT NULL CHECK (source IN ('crm', 'file')),
      created_at timestamptz NOT NULL DEFAULT now(), -- wall-clock: when the row was written
      updated_at timestamptz NOT NULL DEFAULT now(), -- wall-clock: when the row was written
      UNIQUE (kind, name),
      CHECK (parent_id IS NULL OR parent_id <> id)
    )`,
    'CREATE INDEX org_units_parent_idx ON org_units (parent_id)',
    'CREATE INDEX org_units_manager_idx ON org_units (manager_person_id)',
    // valid_to is exclusive and null while current. A closed deal counts for the team its owner belonged to on
    // the close date, so ranges of one person must never overlap: the exclusion constraint guarantees it.
    `CREATE TABLE memberships (
      id bigserial PRIMARY KEY,
      person_id bigint NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
      org_unit_id bigint NOT NULL REFERENCES org_units(id) ON DELETE CASCADE,
      role text,
      valid_from date NOT NULL,
      valid_to date,
      source text NOT NULL CHECK (source IN ('crm', 'file')),
      created_at timestamptz NOT NULL DEFAULT now(), -- wall-clock: when the row was written
      CHECK (valid_to IS NULL OR valid_to > valid_from),
      CONSTRAINT memberships_no_overlap
        EXCLUDE USING gist (person_id WITH =, daterange(valid_from, valid_to, '[)') WITH &&)
    )`,
    'CREATE INDEX memberships_unit_idx ON memberships (org_unit_id, valid_from)',
  ]);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function down(db: Kysely<any>): Promise<void> {
  await run(db, [
    'DROP TABLE memberships',
    'DROP TABLE org_units',
    'DROP TABLE crm_roles',
    'DROP TABLE reps',
    'DROP TABLE persons',
  ]);
}
