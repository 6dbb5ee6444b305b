/**
 * Waits `ms`, or rejects with the signal's reason as soon as it aborts (so a shutdown never waits out a pause).
 * The abort listener goes when the wait ends either way: a worker's signal lives as long as the process, and a
 * bulk job polled every few seconds would otherwise leave a listener on it per poll.
 */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
