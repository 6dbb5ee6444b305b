/**
 * Login flows and the online config check against the sandbox's OAuth endpoint and data API (real HTTP, jsforce).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CredentialStore,
  orgIdFromIdentityUrl,
  SalesforceAuth,
  type SalesforceAuthConfig,
} from '../../../src/connectors/salesforce/auth.ts';
import { SalesforceConnector, type SalesforceConnectorConfig } from '../../../src/connectors/salesforce/connector.ts';
import { checkSalesforceOnline, oneLineMessage } from '../../../src/connectors/salesforce/online-check.ts';
import { isAppError } from '../../../src/errors.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../../src/sandbox/salesforce/index.ts';
import {
  INTEGRATION_PERMISSION_SET,
  integrationObjectPermissions,
} from '../../../src/sandbox/salesforce/permissions.ts';
import { silentLogger } from '../../../src/util/log.ts';

let sb: SalesforceSandbox;

beforeAll(async () => {
  sb = await startSalesforceSandbox({ seed: 11, size: 'small', populate: false, rotateRefreshTokens: true });
});
afterAll(() => sb?.close());

function memoryStore(): CredentialStore & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    load: async (k) => data.get(k) ?? null,
    save: async (k, v) => {
      data.set(k, v);
    },
  };
}

function auth(config: SalesforceAuthConfig, store?: CredentialStore) {
  return new SalesforceAuth({
    connectionId: 'sf',
    loginUrl: sb.url,
    auth: config,
    log: silentLogger,
    ...(store ? { store } : {}),
    readKey: async () => sb.credentials.privateKeyPem,
  });
}

describe('Salesforce auth flows', () => {
  it('refresh token: logs in, learns the org id, and saves a rotated refresh token', async () => {
    const store = memoryStore();
    const c = sb.credentials;
    const a = auth(
      { kind: 'refresh_token', clientId: c.clientId, clientSecret: c.clientSecret, refreshToken: c.refreshToken },
      store,
    );
    const s = await a.current();
    expect(s.orgId).toBe(sb.orgId);
    expect(s.instanceUrl).toBe(sb.url);
    const rotated = store.data.get('refresh_token');
    expect(rotated).toBeDefined();
    expect(rotated).not.toBe(c.refreshToken);
    // The configured token was rotated away; a second login must use the saved one.
    const again = await a.refresh(s.accessToken);
    expect(again.accessToken).not.toBe(s.accessToken);
    expect(store.data.get('refresh_token')).not.toBe(rotated);
  });

  it('a refused session is refreshed once even when several callers ask at the same time', async () => {
    const store = memoryStore();
    const c = sb.credentials;
    const a = auth({ kind: 'client_credentials', clientId: c.clientId, clientSecret: c.clientSecret }, store);
    const s = await a.current();
    const before = sb.log.find('/oauth2/token').length;
    const results = await Promise.all([a.refresh(s.accessToken), a.refresh(s.accessToken), a.refresh(s.accessToken)]);
    expect(new Set(results.map((r) => r.accessToken)).size).toBe(1);
    expect(sb.log.find('/oauth2/token').length - before).toBe(1);
  });

  it('JWT bearer: signs an RS256 assertion the token endpoint accepts', async () => {
    const c = sb.credentials;
    const s = await auth({
      kind: 'jwt',
      clientId: c.clientId,
      username: c.username,
      privateKeyPath: 'sandbox.pem',
    }).current();
    expect(s.orgId).toBe(sb.orgId);
  });

  it('password flow logs in; a wrong password is CRM_AUTH_FAILED naming the connection', async () => {
    const c = sb.credentials;
    const ok = await auth({
      kind: 'password',
      clientId: c.clientId,
      clientSecret: c.clientSecret,
      username: c.username,
      password: c.password,
    }).current();
    expect(ok.orgId).toBe(sb.orgId);
    const err = await auth({
      kind: 'password',
      clientId: c.clientId,
      clientSecret: c.clientSecret,
      username: c.username,
      password: 'nope',
    })
      .current()
      .catch((e: unknown) => e);
    expect(isAppError(err, 'CRM_AUTH_FAILED')).toBe(true);
    expect((err as Error).message).toContain('connection "sf"');
  });

  it('reads the org id out of an identity URL', () => {
    expect(orgIdFromIdentityUrl('https://login.salesforce.com/id/00D5e000000abcdEAA/0055e000001XyZaAAK')).toBe(
      '00D5e000000abcdEAA',
    );
    expect(orgIdFromIdentityUrl('https://example.com/whatever')).toBeUndefined();
  });
});

function onlineConnector(fields?: SalesforceConnectorConfig['fields']): SalesforceConnector {
  const c = sb.credentials;
  return new SalesforceConnector({
    config: {
      id: 'sf',
      loginUrl: sb.url,
      apiVersion: '62.0',
      auth: { kind: 'client_credentials', clientId: c.clientId, clientSecret: c.clientSecret },
      sync: { lookbackMinutes: 10, apiBudgetShare: 0.5, formulaRefreshEvery: '24h', batchSize: 2000 },
      ...(fields ? { fields } : {}),
    },
    log: silentLogger,
  });
}

describe('config check --online', () => {
  it('reports the org, readable fields per object, View All on opportunities and the features', async () => {
    const r = await checkSalesforceOnline(onlineConnector());
    const texts = r.lines.map((l) => l.text);
    expect(r.orgId).toBe(sb.orgId);
    expect(texts).toContain(`logged in to org ${sb.orgId} at ${sb.url}`);
    expect(texts.some((t) => /^Opportunity: \d+ fields readable$/.test(t))).toBe(true);
    expect(r.lines).toContainEqual({ ok: true, text: 'View All on Opportunity: granted (View All Data)' });
    expect(texts).toContain('opportunity splits: yes');
    expect(texts).toContain('multi-currency: yes; corporate currency USD; time zone America/New_York');
    expect(r.lines.filter((l) => l.ok === false)).toEqual([]);
  });

  it('names a configured custom field the org does not have', async () => {
    const connector = onlineConnector({ segment: 'Market_Segment__c' });
    const r = await checkSalesforceOnline(connector);
    expect(r.ok).toBe(false);
    expect(r.lines.map((l) => l.text)).toContain('Opportunity: fields missing or hidden: Market_Segment__c');
  });

  it('says View All on Opportunity is not granted when no permission set of the integration user has it', async () => {
    // The shipped integration set grants View All Data; take it away, then grant View All on Opportunity alone.
    const set = sb.store.all('PermissionSet').find((p) => p.Name === INTEGRATION_PERMISSION_SET);
    expect(set?.PermissionsViewAllData).toBe(true);
    const id = String(set?.Id);
    const granted = (r: Awaited<ReturnType<typeof checkSalesforceOnline>>) =>
      r.lines.filter((l) => l.text.startsWith('View All on Opportunity'));
    expect(granted(await checkSalesforceOnline(onlineConnector()))).toEqual([
      { ok: true, text: 'View All on Opportunity: granted (View All Data)' },
    ]);
    sb.store.update('PermissionSet', id, { PermissionsViewAllData: false });
    const rows = integrationObjectPermissions(sb.store, 'Opportunity');
    try {
      const r = await checkSalesforceOnline(onlineConnector());
      expect(r.ok).toBe(false);
      expect(r.lines.filter((l) => l.ok === false)).toEqual([
        { ok: false, text: 'View All on Opportunity: not granted; deals of other owners may be missing' },
      ]);
      for (const p of rows) sb.store.update('ObjectPermissions', String(p.Id), { PermissionsViewAllRecords: true });
      expect(granted(await checkSalesforceOnline(onlineConnector()))).toEqual([
        { ok: true, text: 'View All on Opportunity: granted' },
      ]);
    } finally {
      sb.store.update('PermissionSet', id, { PermissionsViewAllData: true });
      for (const p of rows) sb.store.update('ObjectPermissions', String(p.Id), { PermissionsViewAllRecords: false });
    }
  });

  it("shows a failed query's own message on one line, not the query and caret drawing before it", async () => {
    const connector = onlineConnector();
    const err = await connector.client.query('SELECT Id FROM Opportunity WHERE Amount =').catch((e: unknown) => e);
    expect(oneLineMessage(err)).toBe(
      "Salesforce GET failed: request rejected (400 MALFORMED_QUERY): unexpected token: '<EOF>' (at GET /query)",
    );
  });
});
