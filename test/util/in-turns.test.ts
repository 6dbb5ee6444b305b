import { describe, expect, it } from 'vitest';
import { inTurns } from '../../src/util/in-turns.ts';

/** A task per item that finishes when its gate is opened, so a test decides the order tasks end in. */
function gated(names: readonly string[]) {
  const gates = new Map<string, () => void>();
  const started: string[] = [];
  const task = (name: string) =>
    new Promise<string>((resolve, reject) => {
      started.push(name);
      gates.set(name, () => (name.startsWith('bad') ? reject(new Error(`${name} failed`)) : resolve(name)));
    });
  const open = async (name: string) => {
    for (let i = 0; i < 50 && !gates.has(name); i++) await new Promise((r) => setImmediate(r));
    gates.get(name)?.();
    await new Promise((r) => setImmediate(r));
  };
  return { task, open, started, names };
}

describe('inTurns', () => {
  it('runs at most `width` tasks at once and hands results over in the items order as soon as they can be', async () => {
    const g = gated(['a', 'b', 'c', 'd']);
    const done: string[] = [];
    const all = inTurns(g.names, 2, g.task, (r) => done.push(r));
    await g.open('b');
    // b ended first, but a is still running: nothing is handed over yet, and c took b's place.
    expect(done).toEqual([]);
    expect(g.started).toEqual(['a', 'b', 'c']);
    await g.open('a');
    expect(done).toEqual(['a', 'b']);
    await g.open('d');
    expect(done).toEqual(['a', 'b']);
    await g.open('c');
    await all;
    expect(done).toEqual(['a', 'b', 'c', 'd']);
  });

  it('starts the items in the start order given, and still hands the results over in the items order', async () => {
    const g = gated(['a', 'b', 'c', 'd']);
    const done: string[] = [];
    const all = inTurns(g.names, 2, g.task, (r) => done.push(r), [2, 3, 0, 1]);
    expect(g.started).toEqual(['c', 'd']);
    await g.open('c');
    expect(g.started).toEqual(['c', 'd', 'a']);
    // c is in, but a (before it in the items) is not: nothing is handed over yet.
    expect(done).toEqual([]);
    await g.open('a');
    await g.open('d');
    await g.open('b');
    await all;
    expect(done).toEqual(['a', 'b', 'c', 'd']);
  });

  it('after a task throws, starts no new task, lets the running one finish, hands over what came in, then throws', async () => {
    const g = gated(['a', 'bad', 'c', 'd']);
    const done: string[] = [];
    const all = inTurns(g.names, 2, g.task, (r) => done.push(r));
    const outcome = all.then(
      () => 'resolved',
      (e: Error) => e.message,
    );
    await g.open('bad');
    expect(g.started).toEqual(['a', 'bad']);
    await g.open('a');
    expect(await outcome).toBe('bad failed');
    // a finished and was handed over; c and d never started.
    expect(done).toEqual(['a']);
    expect(g.started).toEqual(['a', 'bad']);
  });

  it('hands over results that finished after the failed item, in order, before throwing', async () => {
    const g = gated(['bad', 'b', 'c']);
    const done: string[] = [];
    const outcome = inTurns(g.names, 2, g.task, (r) => done.push(r)).then(
      () => 'resolved',
      (e: Error) => e.message,
    );
    await g.open('b');
    // b's lane took c before bad failed; c is still running when bad fails, and finishes after.
    expect(g.started).toEqual(['bad', 'b', 'c']);
    await g.open('bad');
    expect(done).toEqual([]);
    await g.open('c');
    expect(await outcome).toBe('bad failed');
    expect(done).toEqual(['b', 'c']);
  });

  it('refuses a start order that leaves an item out or names one twice, rather than never running it', async () => {
    const task = async (x: string) => x;
    await expect(inTurns(['a', 'b', 'c'], 2, task, () => {}, [2, 0])).rejects.toThrow(/each of the 3 items once/);
    await expect(inTurns(['a', 'b'], 2, task, () => {}, [1, 1])).rejects.toThrow(RangeError);
    await expect(inTurns(['a', 'b'], 2, task, () => {}, [0, 2])).rejects.toThrow(RangeError);
  });
});
