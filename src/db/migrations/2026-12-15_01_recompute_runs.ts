/**
 * A full recompute split into rep shards that any worker can take (src/metrics/engine/shards.ts): the run (its cut,
 * the dirty marks it covers, how many shards are still to do) and each shard (done at most once: the row is taken
 * in the transaction that stores the shard's snapshots). A shard's partial of each group it has members in waits in
 * `recompute_parts` until the last shard is in, then the merge computes every team, region and the org from them
 * and deletes them.
 */
import type { Kysely } from 'kysely';
import { run } from './sql.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function up(db: Kysely<any>): Promise<void> {
  await run(db, [
    `CREATE TABLE recompute_runs (
      id bigserial PRIMARY KEY,
      as_of date NOT NULL,
      period_ids text[] NOT NULL,
      config_hash text NOT NULL,
      shards integer NOT NULL CHECK (shards >= 1),
      pending integer NOT NULL,
      inputs_at timestamptz NOT NULL,
      claimed bigint[] NOT NULL DEFAULT '{}',
      forecast jsonb NOT NULL DEFAULT '{}',
      reason text NOT NULL,
      always_writeback boolean NOT NULL DEFAULT false,
      status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'abandoned')),
      rep_changes integer NOT NULL DEFAULT 0,
      alert_events integer NOT NULL DEFAULT 0,
      superseded integer NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL DEFAULT now(), -- wall-clock: an audit stamp
      finished_at timestamptz
    )`,
    `CREATE INDEX recompute_runs_running_idx ON recompute_runs (as_of) WHERE status = 'running'`,
    `CREATE TABLE recompute_shards (
      run_id bigint NOT NULL REFERENCES recompute_runs (id) ON DELETE CASCADE,
      shard integer NOT NULL,
      done_at timestamptz,
      done_by text,
      subjects integer,
      forecast jsonb,
      PRIMARY KEY (run_id, shard)
    )`,
    `CREATE TABLE recompute_parts (
      run_id bigint NOT NULL REFERENCES recompute_runs (id) ON DELETE CASCADE,
      shard integer NOT NULL,
      group_key text NOT NULL,
      part jsonb NOT NULL,
      trials bytea NOT NULL,
      PRIMARY KEY (run_id, group_key, shard)
    )`,
  ]);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function down(db: Kysely<any>): Promise<void> {
  await run(db, [
    'DROP TABLE IF EXISTS recompute_parts',
    'DROP TABLE IF EXISTS recompute_shards',
    'DROP TABLE IF EXISTS recompute_runs',
  ]);
}
