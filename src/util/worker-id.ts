import { hostname } from 'node:os';

/**
 * This process's name among the workers sharing the database: leases on dirty marks and shards are held under it.
 * The host as well as the pid: in containers every worker is PID 1, and three replicas named `pid-1` would take each
 * other's leases for their own.
 */
export function processWorkerId(): string {
  return `${hostname()}:${process.pid}`;
}
