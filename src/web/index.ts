/** The web surface: app factory, server, access policies and API tokens. */
export { createWebApp, type RegisteredRoute, type WebApp, type WebAppOptions } from './app.ts';
export {
  ACCESS_POLICIES,
  type AccessPolicy,
  databaseSubtree,
  type RouteDef,
  type RouteDoc,
  type RouteModule,
  type RouteRegistrar,
  type SubtreeResolver,
  type WebContext,
  type WebEnv,
  type WebhookVerifier,
} from './policy.ts';
export { type RunningWebServer, startWebServer, type WebServerOptions } from './server.ts';
export { authenticate, createApiToken, listApiTokens, type Principal, revokeApiToken } from './tokens.ts';
