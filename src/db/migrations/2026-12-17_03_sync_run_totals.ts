/**
 * Sync runs are kept 30 days (src/sync/run.ts prunes a stream's older runs as it starts a new one; every 5 minutes
 * on ten streams is a million rows a year, and the operator's status read them all at every scrape). The number of
 * runs by connection and outcome, which the status and `quota_tracker_sync_runs_total` report, must not fall when
 * old rows go: `sync_run_totals` counts each run once when it leaves `running` (or is written finished), kept by a
 * trigger so that every way a run ends (its own process, a newer run marking it abandoned) is counted.
 */
import type { Kysely } from 'kysely';
import { run } from './sql.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function up(db: Kysely<any>): Promise<void> {
  await run(db, [
    // No run may finish between the count below and the trigger's creation (a worker of the old version still
    // running): it would be counted by neither.
    'LOCK TABLE sync_runs IN SHARE ROW EXCLUSIVE MODE',
    `CREATE TABLE sync_run_totals (
      connection_id text NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
      status text NOT NULL,
      runs bigint NOT NULL,
      PRIMARY KEY (connection_id, status)
    )`,
    `INSERT INTO sync_run_totals (connection_id, status, runs)
      SELECT connection_id, status, count(*) FROM sync_runs WHERE status <> 'running' GROUP BY connection_id, status`,
    // A finished run counts under its status; one whose status moves again (it cannot today) moves its count.
    `CREATE FUNCTION sync_run_counted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'UPDATE' AND OLD.status <> 'running' THEN
        UPDATE sync_run_totals SET runs = runs - 1 WHERE connection_id = OLD.connection_id AND status = OLD.status;
      END IF;
      IF NEW.status <> 'running' THEN
        INSERT INTO sync_run_totals (connection_id, status, runs) VALUES (NEW.connection_id, NEW.status, 1)
        ON CONFLICT (connection_id, status) DO UPDATE SET runs = sync_run_totals.runs + 1;
      END IF;
      RETURN NULL;
    END $$`,
    `CREATE TRIGGER sync_run_inserted AFTER INSERT ON sync_runs FOR EACH ROW EXECUTE FUNCTION sync_run_counted()`,
    `CREATE TRIGGER sync_run_finished AFTER UPDATE OF status ON sync_runs FOR EACH ROW
      WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION sync_run_counted()`,
  ]);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function down(db: Kysely<any>): Promise<void> {
  await run(db, [
    'DROP TRIGGER IF EXISTS sync_run_finished ON sync_runs',
    'DROP TRIGGER IF EXISTS sync_run_inserted ON sync_runs',
    'DROP FUNCTION IF EXISTS sync_run_counted()',
    'DROP TABLE IF EXISTS sync_run_totals',
  ]);
}
