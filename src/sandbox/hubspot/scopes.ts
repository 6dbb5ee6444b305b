/**
 * Which scopes a HubSpot API call needs, and the 403 a token without them gets: a token granted only some scopes is
 * the sandbox's scope profile (`startHubSpotSandbox({ scopes })`, `auth.addPrivateApp({ scopes })`), refused on
 * exactly the objects it lacks.
 *
 * - CRM objects: `crm.objects.<type>.read` / `.write` (deals, contacts, companies, line items, leads; goal targets
 *   `crm.objects.goals.read`, https://developers.hubspot.com/docs/api-reference/latest/crm/objects/goals/guide;
 *   owners `crm.objects.owners.read`; custom objects `crm.objects.custom.read`). Calls, emails, meetings, notes and
 *   tasks need the contacts scope ("In addition to the contacts scope ...",
 *   https://developers.hubspot.com/docs/api-reference/legacy/crm/activities/engagements/get-engagements-v1-engagements-paged;
 *   ⚠ the v3 activity pages were not in the stored copies).
 * - An association read needs both objects' read scopes; a pipeline its object's.
 * - Currencies `settings.currencies.read` / `.write`
 *   (https://developers.hubspot.com/docs/api-reference/latest/account/settings/multicurrency/guide); users and teams
 *   `settings.users.read` / `settings.users.teams.read`.
 * - ⚠ Account details, the usage endpoint, properties and schemas need none here.
 *
 * The refusal is HubSpot's body for it: `category: MISSING_SCOPES`, and `errors[].context.requiredGranularScopes`
 * naming what is missing (as HubSpot's community threads quote it).
 */
import type { Reply } from './crm.ts';
import { hsError } from './crm.ts';
import type { HubSpotStore } from './store.ts';

const ENGAGEMENT_TYPES = new Set(['calls', 'emails', 'meetings', 'notes', 'tasks']);

/** The scope an object type's records need (`read` or `write`). */
export function objectScope(store: HubSpotStore, type: string, access: 'read' | 'write'): string {
  if (ENGAGEMENT_TYPES.has(type)) return `crm.objects.contacts.${access}`;
  if (type === 'goal_targets') return `crm.objects.goals.${access}`;
  if (store.typeDef(type).custom) return `crm.objects.custom.${access}`;
  return `crm.objects.${type}.${access}`;
}

/** Every read scope of the sandbox's objects and settings: what a token granted "all" has. */
export function allReadScopes(store: HubSpotStore): string[] {
  const s = new Set(store.typeNames().map((t) => objectScope(store, t, 'read')));
  for (const x of [
    'crm.objects.owners.read',
    'settings.currencies.read',
    'settings.users.read',
    'settings.users.teams.read',
  ])
    s.add(x);
  return [...s].sort();
}

/** The scopes a call needs (all of them), or [] when it needs none the sandbox checks. */
export function requiredScopes(store: HubSpotStore, method: string, path: string): string[] {
  const seg = path.split('/').filter((x) => x !== '');
  const type = (s: string | undefined) => (s === undefined ? undefined : store.typeName(decodeURIComponent(s)));
  const reads = method === 'GET' || (method === 'POST' && (path.endsWith('/search') || path.endsWith('/batch/read')));
  const access = reads ? 'read' : 'write';
  const of = (...types: Array<string | undefined>) =>
    // An unknown type needs nothing here: the route answers it (400 "Unable to infer object type").
    types.every((t) => t !== undefined) ? types.map((t) => objectScope(store, t as string, access)) : [];
  const p = seg.join('/');
  if (p.startsWith('crm/v3/objects/')) return of(type(seg[3]));
  if (p.startsWith('crm/v4/associations/')) return of(type(seg[3]), type(seg[4]));
  if (p.startsWith('crm/v4/objects/')) return of(type(seg[3]), type(seg[6]));
  if (p.startsWith('crm/v3/owners')) return ['crm.objects.owners.read'];
  if (p.startsWith('crm/v3/pipelines/')) {
    const t = type(seg[3]);
    return t ? [objectScope(store, t, 'read')] : [];
  }
  if (p.startsWith('settings/v3/currencies')) return [`settings.currencies.${access}`];
  if (p.startsWith('settings/v3/users/teams')) return ['settings.users.teams.read'];
  if (p.startsWith('settings/v3/users')) return [`settings.users.${access}`];
  return [];
}

/** HubSpot's 403 for a token without the scopes a call needs. */
export function missingScopes(scopes: readonly string[]): Reply {
  return hsError(
    403,
    'MISSING_SCOPES',
    "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
    {
      errors: [
        {
          message: 'One or more of the following scopes are required.',
          context: { requiredGranularScopes: [...scopes] },
        },
      ],
      links: { scopes: 'https://developers.hubspot.com/scopes' },
    },
  );
}
