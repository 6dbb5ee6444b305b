/**
 * CRM calls counted per unit of work. A worker keeps one connector per connection and runs several jobs at once
 * (streams of one connection sync side by side, write-back beside them), so the difference of a connector's running
 * total over a run also counts its neighbours' calls. Each client reports every call it sends here as well, and
 * the call lands on the counter of the async context it was made in: the run's own.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface CallCounter {
  calls: number;
}

const counters = new AsyncLocalStorage<CallCounter>();

/** A client sent one call (an attempt, as the CRM counts it). */
export function countCall(): void {
  const c = counters.getStore();
  if (c) c.calls++;
}

/** Runs `work` with `counter` counting the calls made within it (and only those), whatever else runs meanwhile. */
export function countingCalls<T>(counter: CallCounter, work: () => Promise<T>): Promise<T> {
  return counters.run(counter, work);
}
