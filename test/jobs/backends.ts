/**
 * The two queue backends the job tests run on: Redis (REDIS_URL, default the local server) under a prefix of its
 * own, and BullMQ's PostgreSQL backend in a throw-away database.
 */
import { randomBytes } from 'node:crypto';
import { createQueueBackend, type QueueBackend } from '../../src/jobs/backend.ts';
import { createTestDatabase } from '../helpers/db.ts';

export const BACKEND_KINDS = ['redis', 'postgres'] as const;

export interface TestBackend {
  make(): QueueBackend;
  databaseUrl: string;
  cleanup(): Promise<void>;
}

export async function testBackend(kind: (typeof BACKEND_KINDS)[number]): Promise<TestBackend> {
  const fresh = await createTestDatabase();
  const prefix = `qt_test_${randomBytes(4).toString('hex')}`;
  const redisUrl = kind === 'redis' ? (process.env.REDIS_URL ?? 'redis://127.0.0.1:6379') : undefined;
  const made: QueueBackend[] = [];
  return {
    databaseUrl: fresh.url,
    make() {
      const b = createQueueBackend({ redisUrl, databaseUrl: fresh.url, prefix });
      made.push(b);
      return b;
    },
    async cleanup() {
      if (kind === 'redis') {
        const b = createQueueBackend({ redisUrl, databaseUrl: fresh.url, prefix });
        await b.queue('pipeline').obliterate({ force: true });
        await b.close();
      }
      await Promise.all(made.map((b) => b.close().catch(() => {})));
      await fresh.drop();
    },
  };
}
