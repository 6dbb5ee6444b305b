/**
 * The last word on stopping: once a command has been asked to stop (SIGTERM, Ctrl-C) it aborts what it runs and
 * winds down, and if anything still holds it after STOP_DEADLINE_MS (a CRM answer that never comes, a query the
 * database does not return) the process exits anyway, saying so. Supervisors (systemd, Docker, Kubernetes) send
 * SIGKILL 10 s after SIGTERM by default; exiting first lets the command say why and close what it can.
 */
import type { CliIo } from './program.ts';

export const STOP_DEADLINE_MS = 8_000;

let armed = false;

/** Arms the deadline once per process; the timer does not keep the process alive. */
export function armStopDeadline(io: CliIo, signal: string, ms = STOP_DEADLINE_MS): void {
  if (armed) return;
  armed = true;
  setTimeout(() => {
    io.stderr(
      `${signal}: still stopping after ${ms / 1000} s; exiting now. Work already committed stays, and the next run resumes from the stored cursors.`,
    );
    process.exit(1);
  }, ms).unref();
}
