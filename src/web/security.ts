/**
 * Response headers every answer carries, and the client address the sign-in limiter counts by.
 *
 * The CSP allows no inline script (scripts only from this origin), no framing (`frame-ancestors 'none'`), forms
 * posting only here; styles may be inline (report pages carry their own). `nosniff`, no referrer, and HSTS
 * where the request arrived over HTTPS.
 */
import { isIP, isIPv4 } from 'node:net';
import { secureHeaders } from 'hono/secure-headers';
import { addressMatcher } from '../util/ip.ts';
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

/** The peer address of the connection, as the socket reports it (IPv4 peers of a dual-stack socket unwrapped). */
function peerAddress(c: WebContext): string | null {
  const env = c.env as NodeBindings | undefined;
  const a = env?.incoming?.socket?.remoteAddress;
  if (!a) return null;
  return a.startsWith('::ffff:') && isIPv4(a.slice(7)) ? a.slice(7) : a;
}

/**
 * Who the client is, for the sign-in limiter: the peer address of the connection, unless that peer is one of the
 * proxies listed in `web.trustProxy`. Then `X-Forwarded-For` is read from the right, skipping every listed proxy,
 * and the first address not listed is the client (what the nearest proxy saw). Entries left of it are the
 * client's own claims and are never used. With no list, the header is ignored: a client may write it, so
 * trusting it would let an attacker pick a fresh address per guess.
 */
export function clientAddressResolver(trustProxy: readonly string[]): (c: WebContext) => string {
  const isTrusted = addressMatcher(trustProxy);
  return (c) => {
    const peer = peerAddress(c);
    if (peer === null) return 'unknown';
    if (trustProxy.length === 0 || !isTrusted(peer)) return peer;
    const hops = (c.req.header('x-forwarded-for') ?? '')
      .split(',')
      .map((h) => h.trim())
      .filter((h) => h !== '');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i] as string;
      // A hop that is not an address (a proxy's "unknown", garbage) ends the chain: the last trusted proxy's
      // peer is all that is known, so everyone behind it counts as that proxy.
      if (isIP(hop) === 0) return peer;
      if (!isTrusted(hop)) return hop;
    }
    return peer;
  };
}
