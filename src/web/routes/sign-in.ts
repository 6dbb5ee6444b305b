/**
 * Signing in from a browser: `GET /login` shows a form for an API token; `POST /login` checks it and sets an
 * HTTP-only, SameSite=Lax cookie holding a new session's id (never the token); `POST /logout` ends the session.
 * The login form is protected by a double-submit CSRF cookie (there is no session yet); the sign-out form by the
 * session's own CSRF token. Failed sign-ins count toward the address's limit (src/web/rate-limit.ts).
 */
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { escapeHtml } from '../../reports/html.ts';
import type { RouteModule, WebContext, WebEnv } from '../policy.ts';
import type { FailureLimiter } from '../rate-limit.ts';
import {
  createSession,
  endSession,
  LOGIN_CSRF_COOKIE,
  randomToken,
  readSession,
  SESSION_COOKIE,
  SESSION_HOURS,
  sameSecret,
} from '../sessions.ts';
import { authenticate } from '../tokens.ts';

/** Where to go after signing in: a path on this site only (no `//host`, no scheme), else the sign-in page. */
export function safeNext(next: string | undefined): string {
  if (!next?.startsWith('/')) return '/login';
  // Resolved the way a browser resolves a Location header: browsers drop tabs and newlines and read a backslash as a
  // slash, so `/\t/evil.example` would leave the site. Only a path that stays on this origin is followed.
  const base = 'http://quota-tracker.invalid';
  let url: URL;
  try {
    url = new URL(next, base);
  } catch {
    return '/login';
  }
  if (url.origin !== base || [...next].some((ch) => ch.charCodeAt(0) < 0x20 || ch === '\\')) return '/login';
  return `${url.pathname}${url.search}${url.hash}`;
}

function secure(c: Context<WebEnv>, publicUrl: string | undefined): boolean {
  return new URL(c.req.url).protocol === 'https:' || (publicUrl?.startsWith('https:') ?? false);
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} - quota-tracker</title><link rel="icon" href="data:,">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}
label,input,button{display:block;width:100%;box-sizing:border-box}input{margin:.25rem 0 1rem;padding:.5rem;font:inherit}
button{padding:.5rem;font:inherit;cursor:pointer}.error{color:#a00}</style></head>
<body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

function loginForm(c: WebContext, opts: { next: string; error?: string; status?: ContentfulStatusCode }): Response {
  const csrf = randomToken();
  setCookie(c, LOGIN_CSRF_COOKIE, csrf, {
    httpOnly: true,
    sameSite: 'Strict',
    path: '/login',
    maxAge: 3600,
    secure: secure(c, c.var.publicUrl),
  });
  const error = opts.error ? `<p class="error" role="alert">${escapeHtml(opts.error)}</p>` : '';
  return c.html(
    page(
      'Sign in',
      `${error}<form method="post" action="/login">
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="off" required placeholder="qt_...">
<input type="hidden" name="_csrf" value="${escapeHtml(csrf)}">
<input type="hidden" name="next" value="${escapeHtml(opts.next)}">
<button type="submit">Sign in</button>
</form><p>Ask an admin for a token (<code>quota-tracker token create</code>). You stay signed in for ${SESSION_HOURS} hours.</p>`,
    ),
    opts.status ?? 200,
  );
}

export function signInRoutes(limiter: FailureLimiter): RouteModule {
  return (r) => {
    r.route({
      method: 'GET',
      path: '/login',
      policy: 'public',
      doc: {
        summary: 'The sign-in form (or, when signed in, who you are and a sign-out button).',
        produces: 'text/html',
      },
      handler: async (c) => {
        c.header('Cache-Control', 'no-store');
        const session = await readSession(c.var.db, getCookie(c, SESSION_COOKIE));
        if (!session) return loginForm(c, { next: safeNext(c.req.query('next')) });
        const p = session.principal;
        const who = p.subjectEmail ? `${p.role} ${p.subjectEmail}` : p.role;
        return c.html(
          page(
            'Signed in',
            `<p>Signed in as <strong>${escapeHtml(who)}</strong>.</p>
<form method="post" action="/logout"><input type="hidden" name="_csrf" value="${escapeHtml(session.csrf)}">
<button type="submit">Sign out</button></form>`,
          ),
        );
      },
    });

    r.route({
      method: 'POST',
      path: '/login',
      policy: 'public',
      doc: {
        summary: 'Signs in with an API token (form fields token, _csrf, next): sets the session cookie, 303 to next.',
        produces: 'text/html',
      },
      handler: async (c) => {
        c.header('Cache-Control', 'no-store');
        const address = c.var.clientAddress;
        const wait = limiter.retryAfter(address);
        if (wait > 0) {
          c.header('Retry-After', String(wait));
          return c.html(
            page('Sign in', '<p class="error" role="alert">Too many failed sign-ins: wait a minute.</p>'),
            429,
          );
        }
        const form = await c.req.parseBody();
        const field = (name: string) => (typeof form[name] === 'string' ? (form[name] as string) : undefined);
        const next = safeNext(field('next'));
        if (!sameSecret(field('_csrf'), getCookie(c, LOGIN_CSRF_COOKIE))) {
          return loginForm(c, { next, error: 'The form expired: sign in again.', status: 403 });
        }
        const principal = await authenticate(c.var.db, field('token'));
        if (!principal) {
          limiter.fail(address);
          return loginForm(c, { next, error: 'That token is unknown, malformed or revoked.', status: 401 });
        }
        const session = await createSession(c.var.db, principal.tokenId);
        deleteCookie(c, LOGIN_CSRF_COOKIE, { path: '/login' });
        setCookie(c, SESSION_COOKIE, session.id, {
          httpOnly: true,
          sameSite: 'Lax',
          path: '/',
          maxAge: SESSION_HOURS * 3600,
          secure: secure(c, c.var.publicUrl),
        });
        return c.redirect(next, 303);
      },
    });

    r.route({
      method: 'POST',
      path: '/logout',
      policy: 'rep',
      doc: { summary: "Ends the cookie's session (form field _csrf, or header X-CSRF-Token)." },
      handler: async (c) => {
        await endSession(c.var.db, getCookie(c, SESSION_COOKIE));
        deleteCookie(c, SESSION_COOKIE, { path: '/' });
        return c.redirect('/login', 303);
      },
    });
  };
}
