/**
 * Every error code of the catalogue answers with its own HTTP status (before, 8 codes were mapped and the rest
 * answered 500): a sync already running is a conflict, a CRM that refused us a bad gateway, a rate limit a 503
 * that says when to come back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, ERROR_CODES, type ErrorCode } from '../../src/errors.ts';
import { createWebApp } from '../../src/web/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.drop());

describe('HTTP status per error code', () => {
  it('the catalogue gives every code a status: 4xx for the caller, 5xx for the server or the CRM', () => {
    for (const [code, entry] of Object.entries(ERROR_CODES)) {
      expect(entry.http, code).toBeGreaterThanOrEqual(400);
      expect(entry.http, code).toBeLessThan(600);
    }
    const at = (c: ErrorCode) => ERROR_CODES[c].http;
    expect([at('SYNC_IN_PROGRESS'), at('CRM_ORG_MISMATCH')]).toEqual([409, 409]);
    expect([at('CRM_UNAVAILABLE'), at('CRM_AUTH_FAILED'), at('CRM_PERMISSION')]).toEqual([502, 502, 502]);
    expect([at('CRM_RATE_LIMITED'), at('CRM_BUDGET_EXHAUSTED'), at('DB_UNAVAILABLE')]).toEqual([503, 503, 503]);
    expect([at('NOT_BUILT'), at('RECORD_INVALID'), at('INTERNAL')]).toEqual([501, 422, 500]);
  });

  it('the web app answers with it, and a Retry-After when the error carries one', async () => {
    const thrown: Record<string, AppError> = {
      busy: new AppError('SYNC_IN_PROGRESS', 'the sync of sf/users is already running in another process'),
      limited: new AppError('CRM_RATE_LIMITED', 'rate limited (429)', { retryAfterSeconds: 119.2 }),
      usage: new AppError('USAGE', 'bad parameter', { where: 'asOf' }),
    };
    const { app } = createWebApp({
      db: t.db,
      modules: [
        (r) =>
          r.route({
            method: 'GET',
            path: '/test/fail/:what',
            policy: 'public',
            handler: async (c) => {
              throw thrown[c.req.param('what') ?? ''] ?? new Error('no such case');
            },
          }),
      ],
    });
    const busy = await app.request('/test/fail/busy');
    expect(busy.status).toBe(409);
    expect(await busy.json()).toEqual({
      error: { code: 'SYNC_IN_PROGRESS', message: 'the sync of sf/users is already running in another process' },
    });
    const limited = await app.request('/test/fail/limited');
    expect(limited.status).toBe(503);
    expect(limited.headers.get('retry-after')).toBe('120');
    const usage = await app.request('/test/fail/usage');
    expect(usage.status).toBe(400);
    expect(usage.headers.get('retry-after')).toBeNull();
    expect((await app.request('/test/fail/other')).status).toBe(500);
  });
});
