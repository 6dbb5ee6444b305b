/**
 * Runs `task` over `items`, at most `width` at once, and hands each result to `done` in the items' order as soon
 * as it and every earlier one are in. A task that throws starts no new task; the running ones finish, every result
 * that came in is handed over in order (the failed item's place skipped), then the first error is thrown.
 * `startOrder` (indexes of `items`) says which to start first; the results are still handed over in the items' order.
 */
export async function inTurns<T, R>(
  items: readonly T[],
  width: number,
  task: (item: T) => Promise<R>,
  done: (result: R) => void,
  startOrder?: readonly number[],
): Promise<void> {
  const order = startOrder ?? items.map((_, i) => i);
  // An item left out would never run and never be reported: refuse anything but each index once.
  if (order.length !== items.length || new Set(order).size !== items.length || order.some((i) => !(i in items)))
    throw new RangeError(`startOrder must name each of the ${items.length} items once: [${order.join(', ')}]`);
  const results = new Array<{ value: R } | undefined>(items.length);
  let next = 0;
  let flushed = 0;
  let error: { e: unknown } | undefined;
  const flush = () => {
    for (let r = results[flushed]; r !== undefined; r = results[flushed]) {
      flushed++;
      done(r.value);
    }
  };
  const lane = async () => {
    while (next < order.length && !error) {
      const i = order[next++] as number;
      try {
        results[i] = { value: await task(items[i] as T) };
      } catch (e) {
        error ??= { e };
        return;
      }
      if (!error) flush();
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, order.length) }, lane));
  if (error) {
    for (; flushed < results.length; flushed++) {
      const r = results[flushed];
      if (r) done(r.value);
    }
    throw error.e;
  }
}
