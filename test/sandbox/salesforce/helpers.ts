import { createSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import jsforce from 'jsforce';
import type { SalesforceSandbox } from '../../../src/sandbox/salesforce/index.ts';

/** A documented Salesforce example kept under test/fixtures/salesforce/, with its source URL. */
export function fixture<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../../fixtures/salesforce/${name}`, import.meta.url), 'utf8')) as T;
}

/** Sorted keys of an object, to compare a body's shape with a documented example. */
export const keys = (o: unknown): string[] => Object.keys(o as object).sort();

export function oauth2(sb: SalesforceSandbox) {
  return {
    loginUrl: sb.url,
    clientId: sb.credentials.clientId,
    clientSecret: sb.credentials.clientSecret,
    redirectUri: 'http://localhost/callback',
  };
}

/** A jsforce connection that logs in with the refresh-token grant on its first call (401 -> refresh -> retry). */
export function connect(sb: SalesforceSandbox, refreshToken = sb.credentials.refreshToken): jsforce.Connection {
  return new jsforce.Connection({ oauth2: oauth2(sb), instanceUrl: sb.url, refreshToken, version: '62.0' });
}

/** An RS256 JWT-bearer assertion as a client would sign it. */
export function signAssertion(claims: Record<string, unknown>, privateKeyPem: string): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = `${enc({ alg: 'RS256' })}.${enc(claims)}`;
  const sig = createSign('RSA-SHA256').update(head).sign(privateKeyPem).toString('base64url');
  return `${head}.${sig}`;
}

/** Calls the test API. */
export async function admin(sb: SalesforceSandbox, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${sb.url}/__sandbox/${path}`, {
    method,
    headers: { authorization: `Bearer ${sb.credentials.adminToken}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** The error a promise rejects with, or a failure if it resolves. */
export async function rejection(p: PromiseLike<unknown>): Promise<Error & { errorCode?: string; name: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { errorCode?: string };
  }
  throw new Error('expected the call to fail, it succeeded');
}
