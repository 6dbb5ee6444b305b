/**
 * Response headers every answer carries, and the client address the sign-in limiter counts by.
 *
 * The CSP allows no inline script (scripts only from this origin), no framing (`frame-ancestors 'none'`), forms
 * posting only here; styles may be inline (report pages carry their own). `nosniff`, no referrer, and HSTS
 * where the request arrived over HTTPS.
 */
import { secureHeaders } from 'hono/secure-headers';
import type { WebContext } from './policy.ts';

export const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

export const securityHeaders = secureHeaders({
  contentSecurityPolicy: CONTENT_SECURITY_POLICY,
  xFrameOptions: 'DENY',
  xContentTypeOptions: 'nosniff',
  referrerPolicy: 'no-referrer',
  crossOriginResourcePolicy: 'same-origin',
  crossOriginOpenerPolicy: 'same-origin',
  // Sent always; browsers ignore it over plain HTTP, and a proxy terminating TLS forwards it.
  strictTransportSecurity: 'max-age=31536000; includeSubDomains',
});

interface NodeBindings {
  incoming?: { socket?: { remoteAddress?: string } };
}

/**
 * The peer address of the connection. Not `X-Forwarded-For`: a client may write that header, so trusting it
 * would let an attacker pick a fresh address per guess. Behind a proxy every client counts as the proxy.
 */
export function clientAddress(c: WebContext): string {
  const env = c.env as NodeBindings | undefined;
  return env?.incoming?.socket?.remoteAddress ?? 'unknown';
}
