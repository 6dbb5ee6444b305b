/**
 * Redis for tests: REDIS_URL (default `redis://127.0.0.1:6379`) with a key prefix unique to the calling test file,
 * so files running in parallel never see each other's keys. Pass `prefix` to BullMQ (`{ prefix }`) or prepend it
 * to keys; `close()` deletes every key under the prefix.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export interface TestRedis {
  url: string;
  /** e.g. `qt_t_3f9a1c2b4d5e`; keys are `<prefix>:...`. */
  prefix: string;
  client: Redis;
  close(): Promise<void>;
}

export function testRedisUrl(): string {
  const url = process.env.REDIS_URL;
  return url !== undefined && url.trim() !== '' ? url : 'redis://127.0.0.1:6379';
}

export function uniqueRedisPrefix(): string {
  return `qt_t_${randomBytes(6).toString('hex')}`;
}

export async function createTestRedis(): Promise<TestRedis> {
  const url = testRedisUrl();
  const prefix = uniqueRedisPrefix();
  const client = new Redis(url, { maxRetriesPerRequest: 2, lazyConnect: true });
  await client.connect();
  return {
    url,
    prefix,
    client,
    async close() {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
        cursor = next;
        if (keys.length) await client.del(...keys);
      } while (cursor !== '0');
      await client.quit();
    },
  };
}
