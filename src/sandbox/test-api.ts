/**
 * The routes both sandboxes' test APIs (`/__sandbox/...`) answer alike: the request log, the fault rules and the
 * clock. Each sandbox keeps its own routes (tokens, life, oracle, webhooks, bulk) and parses bodies its CRM's way,
 * so a malformed body gets the error that CRM would send.
 */
import type { FaultInjector, FaultRule } from './salesforce/faults.ts';
import type { RequestLog } from './salesforce/request-log.ts';

export interface TestApiParts<K extends string> {
  log: RequestLog;
  faults: FaultInjector<K>;
  store: { now(): Date; setNow(d: Date): void; advance(ms: number): void };
  parseJson(raw: string): unknown;
}

/** The answer to `METHOD what` when it is one of the shared routes; undefined otherwise. */
export function sharedTestRoute<K extends string>(
  route: string,
  raw: string,
  parts: TestApiParts<K>,
): { status: number; body?: unknown } | undefined {
  const { log, faults, store, parseJson } = parts;
  switch (route) {
    case 'GET log':
      return { status: 200, body: log.entries() };
    case 'DELETE log':
      log.clear();
      return { status: 204 };
    case 'GET faults':
      return { status: 200, body: faults.list() };
    case 'POST faults':
      return { status: 201, body: { id: faults.add(parseJson(raw) as FaultRule<K>) } };
    case 'DELETE faults':
      faults.clear();
      return { status: 204 };
    case 'POST clock': {
      const b = parseJson(raw) as { advanceMs?: number; now?: string };
      if (typeof b.now === 'string') store.setNow(new Date(b.now));
      if (typeof b.advanceMs === 'number') store.advance(b.advanceMs);
      return { status: 200, body: { now: store.now().toISOString() } };
    }
    default:
      return undefined;
  }
}
