/**
 * The one abortable pause (retry backoffs, bulk-job polls, the refresh-lock wait): it ends early on abort, and it
 * leaves nothing on the signal when it ends either way. A worker's signal lives as long as the process; before, each
 * pause left its listener behind (Node warned "11 abort listeners added to [AbortSignal]" during a bulk sync).
 */
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { abortableSleep } from '../../src/util/sleep.ts';

describe('abortableSleep', () => {
  it('leaves no abort listener on the signal after pauses that ran their course', async () => {
    const controller = new AbortController();
    for (let i = 0; i < 20; i++) await abortableSleep(1, controller.signal);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('rejects with the reason as soon as the signal aborts, and at once when it already has', async () => {
    const controller = new AbortController();
    const pause = abortableSleep(60_000, controller.signal);
    controller.abort(new Error('stop asked'));
    await expect(pause).rejects.toThrow('stop asked');
    await expect(abortableSleep(60_000, controller.signal)).rejects.toThrow('stop asked');
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});
