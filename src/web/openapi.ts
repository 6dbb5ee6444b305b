/**
 * `/api/v1/openapi.json`: an OpenAPI 3.1 document generated from the route registry, so every route the server
 * answers is described, with its access policy (`x-access-policy`) and how it authenticates.
 */
import type { AccessPolicy, RouteDoc } from './policy.ts';

interface DocRoute {
  method: string;
  path: string;
  policy: AccessPolicy;
  doc?: RouteDoc;
}

const POLICY_TEXT: Record<AccessPolicy, string> = {
  public: 'Open to anyone.',
  admin: 'Admin tokens only.',
  manager: 'Manager and admin tokens; a manager sees their subtree only.',
  rep: 'Any token; a rep sees only themselves (and names and ranks on the leaderboard), a manager their subtree.',
  'signed-webhook': 'No token: the request must carry a valid signature of its body.',
};

const ERROR_SCHEMA = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
};

/** `/api/v1/reports/:kind` to `/api/v1/reports/{kind}`, with the path parameters it names. */
function openApiPath(path: string): { path: string; params: string[] } {
  const params: string[] = [];
  const out = path.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, (_, name: string) => {
    params.push(name);
    return `{${name}}`;
  });
  return { path: out, params };
}

export function openApiDocument(routes: readonly DocRoute[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const { path, params } = openApiPath(r.path);
    const secured = r.policy !== 'public' && r.policy !== 'signed-webhook';
    const responses: Record<string, unknown> = {
      '200': {
        description: 'OK',
        content: { [r.doc?.produces ?? 'application/json']: { schema: {} } },
      },
    };
    const error = { content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    if (r.doc?.query?.length) responses['400'] = { description: 'A query parameter is invalid', ...error };
    if (r.policy !== 'public') responses['401'] = { description: 'No token, or a malformed or revoked one', ...error };
    if (secured) responses['403'] = { description: 'The token may not see this', ...error };
    if (secured) responses['429'] = { description: 'Too many failed sign-ins or bad tokens from this address' };
    const parameters = [
      ...params.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
      ...(r.doc?.query ?? []).map((q) => ({
        name: q.name,
        in: 'query',
        required: q.required ?? false,
        description: q.description,
        schema: q.schema ?? { type: 'string' },
      })),
    ];
    const operation: Record<string, unknown> = {
      summary: r.doc?.summary ?? `${r.method} ${r.path}`,
      description: [r.doc?.description, POLICY_TEXT[r.policy]].filter(Boolean).join('\n\n'),
      'x-access-policy': r.policy,
      ...(r.doc?.tags ? { tags: r.doc.tags } : {}),
      ...(parameters.length > 0 ? { parameters } : {}),
      security: secured ? [{ bearer: [] }, { session: [] }] : [],
      responses,
    };
    paths[path] ??= {};
    (paths[path] as Record<string, unknown>)[r.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'quota-tracker',
      version: '1',
      description:
        'Quota attainment figures, scoped to who asks. Reports return exactly what `quota-tracker report <kind> --format json` prints.',
    },
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API token from `quota-tracker token create`.' },
        session: { type: 'apiKey', in: 'cookie', name: 'qt_session', description: 'Set by signing in at /login.' },
      },
      schemas: { Error: ERROR_SCHEMA },
    },
  };
}
