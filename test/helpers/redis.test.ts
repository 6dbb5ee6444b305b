import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRedis, type TestRedis } from './redis.ts';

describe('test Redis helper', () => {
  let a: TestRedis;
  let b: TestRedis;
  beforeAll(async () => {
    [a, b] = await Promise.all([createTestRedis(), createTestRedis()]);
  });
  afterAll(async () => {
    await b.close();
  });

  it('gives each caller its own key prefix, and close() deletes only that prefix', async () => {
    expect(a.prefix).not.toBe(b.prefix);
    expect(a.prefix).toMatch(/^qt_t_[0-9a-f]{12}$/);
    for (let i = 0; i < 1200; i++) await a.client.set(`${a.prefix}:k${i}`, String(i));
    await b.client.set(`${b.prefix}:kept`, 'yes');
    expect(await b.client.get(`${a.prefix}:k7`)).toBe('7');

    await a.close();
    expect(await b.client.exists(`${a.prefix}:k0`, `${a.prefix}:k1199`)).toBe(0);
    expect(await b.client.get(`${b.prefix}:kept`)).toBe('yes');
  });
});
