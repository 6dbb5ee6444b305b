import { describe, expect, it } from 'vitest';
import { decideRetry, parseRetryAfter, type RetryOptions } from '../../src/connectors/retry-policy.ts';
import { SALESFORCE_RETRY_CODES } from '../../src/connectors/salesforce/retry-codes.ts';

const NOW = Date.parse('2026-03-02T10:00:00Z');
// random() = 0.5 so full jitter is half the ceiling: attempt 1 -> 250 ms, 2 -> 500, 3 -> 1000 with base 500.
// Salesforce's codes: the policy reads a CRM's codes from its registry entry.
const opts: Partial<RetryOptions> = {
  random: () => 0.5,
  now: () => NOW,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  codes: SALESFORCE_RETRY_CODES,
};
const first = { attempt: 1, refreshed: false };

describe('decideRetry: transient failures back off with full jitter', () => {
  it.each([
    ['ECONNRESET', { code: 'ECONNRESET' }],
    ['ETIMEDOUT', { code: 'ETIMEDOUT' }],
    ['socket hang up', { message: 'socket hang up' }],
    ['500', { status: 500, code: 'ERROR_HTTP_500' }],
    ['503', { status: 503 }],
    ['429', { status: 429 }],
    ['403 REQUEST_LIMIT_EXCEEDED', { status: 403, code: 'REQUEST_LIMIT_EXCEEDED' }],
  ])('%s is retried', (_name, failure) => {
    expect(decideRetry(failure, first, opts)).toMatchObject({ action: 'retry', delayMs: 250 });
  });

  it('doubles the ceiling each attempt and caps it at maxDelayMs', () => {
    const delays = [1, 2, 3, 4, 8, 9].map((attempt) => {
      const d = decideRetry({ status: 503 }, { attempt, refreshed: false }, { ...opts, maxAttempts: 10 });
      return d.action === 'retry' ? d.delayMs : -1;
    });
    // ceilings 500, 1000, 2000, 4000, 64000->30000, 30000; halved by the jitter
    expect(delays).toEqual([250, 500, 1000, 2000, 15_000, 15_000]);
  });

  it('jitter spans the whole interval [0, ceiling)', () => {
    const low = decideRetry({ status: 503 }, { attempt: 3, refreshed: false }, { ...opts, random: () => 0 });
    const high = decideRetry({ status: 503 }, { attempt: 3, refreshed: false }, { ...opts, random: () => 0.999 });
    expect(low).toMatchObject({ action: 'retry', delayMs: 0 });
    expect(high).toMatchObject({ action: 'retry', delayMs: 1998 });
  });

  it('never retries sooner than Retry-After in seconds', () => {
    const d = decideRetry({ status: 429, headers: { 'retry-after': '7' } }, first, opts);
    expect(d).toMatchObject({ action: 'retry', delayMs: 7000 });
  });

  it('takes the backoff when it is longer than Retry-After', () => {
    const d = decideRetry(
      { status: 429, headers: { 'retry-after': '1' } },
      { attempt: 4, refreshed: false },
      { ...opts, random: () => 0.9 },
    );
    expect(d).toMatchObject({ action: 'retry', delayMs: 3600 });
  });

  it('reads Retry-After given as an HTTP date', () => {
    const d = decideRetry({ status: 503, headers: { 'retry-after': 'Mon, 02 Mar 2026 10:00:12 GMT' } }, first, opts);
    expect(d).toMatchObject({ action: 'retry', delayMs: 12_000 });
  });

  it('gives up retryable after maxAttempts, naming the failure', () => {
    const d = decideRetry({ status: 502 }, { attempt: 6, refreshed: false }, { ...opts, maxAttempts: 6 });
    expect(d).toMatchObject({ action: 'fail', code: 'CRM_UNAVAILABLE', retryable: true });
    expect(d.reason).toContain('502');
    const r = decideRetry({ status: 429 }, { attempt: 6, refreshed: false }, { ...opts, maxAttempts: 6 });
    expect(r).toMatchObject({ action: 'fail', code: 'CRM_RATE_LIMITED', retryable: true });
  });

  it('does not sleep through a Retry-After longer than maxRetryAfterMs: it stops and says when to return', () => {
    const d = decideRetry({ status: 429, headers: { 'retry-after': '3600' } }, first, opts);
    expect(d).toEqual(expect.objectContaining({ action: 'fail', code: 'CRM_RATE_LIMITED', retryAfterSeconds: 3600 }));
  });
});

describe('decideRetry: sessions', () => {
  it('refreshes once on 401 INVALID_SESSION_ID', () => {
    expect(decideRetry({ status: 401, code: 'INVALID_SESSION_ID' }, first, opts)).toMatchObject({ action: 'refresh' });
  });

  it('fails on a second 401 after a refresh', () => {
    const d = decideRetry({ status: 401, code: 'INVALID_SESSION_ID' }, { attempt: 2, refreshed: true }, opts);
    expect(d).toMatchObject({ action: 'fail', code: 'CRM_AUTH_FAILED', retryable: false });
  });
});

describe('decideRetry: validation errors never retry', () => {
  it.each([
    [{ status: 400, code: 'MALFORMED_QUERY' }, 'CRM_REQUEST_INVALID'],
    [{ status: 400, code: 'INVALID_FIELD' }, 'CRM_FIELD_MISSING'],
    [{ status: 400 }, 'CRM_REQUEST_INVALID'],
    [{ status: 404, code: 'NOT_FOUND' }, 'CRM_REQUEST_INVALID'],
    [{ status: 403, code: 'INSUFFICIENT_ACCESS' }, 'CRM_PERMISSION'],
  ] as const)('%o fails with %s', (failure, code) => {
    expect(decideRetry(failure, first, opts)).toMatchObject({ action: 'fail', code, retryable: false });
  });

  it('a 400 carrying Retry-After is still not retried', () => {
    const d = decideRetry({ status: 400, code: 'MALFORMED_QUERY', headers: { 'retry-after': '1' } }, first, opts);
    expect(d.action).toBe('fail');
  });

  it('an unknown error without a status is not retried', () => {
    expect(decideRetry({ message: 'Unexpected token < in JSON' }, first, opts)).toMatchObject({
      action: 'fail',
      code: 'INTERNAL',
    });
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds, dates, and ignores garbage', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120);
    expect(parseRetryAfter('Mon, 02 Mar 2026 09:59:00 GMT', NOW)).toBe(0);
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
    expect(parseRetryAfter(undefined, NOW)).toBeUndefined();
  });
});
