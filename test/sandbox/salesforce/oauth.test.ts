import jsforce from 'jsforce';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../../src/sandbox/salesforce/index.ts';
import { connect, fixture, keys, oauth2, rejection, signAssertion } from './helpers.ts';

const token = fixture<{
  body: Record<string, string>;
  jwtBearerBody: Record<string, string>;
  errorBody: Record<string, string>;
}>('oauth-token-response.json');
const errors = fixture<{ invalidSession: unknown }>('errors.json');

let sb: SalesforceSandbox;
beforeAll(async () => {
  sb = await startSalesforceSandbox({ seed: 11, size: 'small', populate: false, anchorDate: '2026-03-10' });
});
afterAll(async () => sb.close());

describe('OAuth token endpoint through jsforce', () => {
  it('refresh_token grant returns the documented body, and jsforce reads org and user from the id URL', async () => {
    const res = await new jsforce.OAuth2(oauth2(sb)).refreshToken(sb.credentials.refreshToken);
    expect(keys(res)).toEqual(keys(token.body));
    expect(res.token_type).toBe('Bearer');
    expect(res.instance_url).toBe(sb.url);
    expect(res.id).toBe(`${sb.url}/id/${sb.orgId}/${sb.integrationUserId}`);
    expect(Number(res.issued_at)).toBeGreaterThan(1_700_000_000_000);
    const conn = connect(sb);
    const refreshed = new Promise((resolve) => conn.on('refresh', resolve));
    const r = await conn.query('SELECT Id FROM Organization');
    await refreshed;
    expect(r.records[0]?.Id).toBe(sb.orgId);
    const identity = await conn.identity();
    expect(identity.organization_id).toBe(sb.orgId);
    expect(identity.user_id).toBe(sb.integrationUserId);
  });

  it('password, client_credentials and JWT-bearer grants each open a working session', async () => {
    const pw = new jsforce.Connection({ oauth2: oauth2(sb), version: '62.0' });
    const info = await pw.login(sb.credentials.username, sb.credentials.password);
    expect(info).toMatchObject({ id: sb.integrationUserId, organizationId: sb.orgId });
    expect((await pw.query('SELECT COUNT() FROM User')).totalSize).toBe(2);

    const o = new jsforce.OAuth2(oauth2(sb));
    const cc = await o.requestToken({ grant_type: 'client_credentials' });
    expect(cc.refresh_token).toBeUndefined();
    expect(keys(cc)).toEqual(keys(token.body));

    const assertion = signAssertion(
      {
        iss: sb.credentials.clientId,
        sub: sb.credentials.username,
        aud: sb.url,
        exp: Math.floor(Date.now() / 1000) + 180,
      },
      sb.credentials.privateKeyPem,
    );
    const jwt = await o.requestToken({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion });
    expect(keys(jwt)).toEqual(keys(token.jwtBearerBody));
    const conn = new jsforce.Connection({
      instanceUrl: jwt.instance_url,
      accessToken: jwt.access_token,
      version: '62.0',
    });
    expect((await conn.query('SELECT Id FROM Organization')).totalSize).toBe(1);
  });

  it('answers 400 invalid_grant for bad credentials, a forged or expired assertion, and an unknown refresh token', async () => {
    const o = new jsforce.OAuth2(oauth2(sb));
    expect((await rejection(o.authenticate(sb.credentials.username, 'wrong'))).name).toBe('invalid_grant');
    expect((await rejection(o.refreshToken('5Aep861nope'))).name).toBe(token.errorBody.error);
    const other = (await import('node:crypto')).generateKeyPairSync('rsa', { modulusLength: 2048 });
    const claims = {
      iss: sb.credentials.clientId,
      sub: sb.credentials.username,
      aud: sb.url,
      exp: Math.floor(Date.now() / 1000) + 60,
    };
    const forged = signAssertion(claims, other.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    const grant = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
    expect((await rejection(o.requestToken({ grant_type: grant, assertion: forged }))).name).toBe('invalid_grant');
    const expired = signAssertion({ ...claims, exp: Math.floor(Date.now() / 1000) - 5 }, sb.credentials.privateKeyPem);
    expect((await rejection(o.requestToken({ grant_type: grant, assertion: expired }))).name).toBe('invalid_grant');
    const wrongSub = signAssertion({ ...claims, sub: 'someone@else' }, sb.credentials.privateKeyPem);
    expect((await rejection(o.requestToken({ grant_type: grant, assertion: wrongSub }))).name).toBe('invalid_grant');
    const badClient = new jsforce.OAuth2({ ...oauth2(sb), clientSecret: 'nope' });
    expect((await rejection(badClient.requestToken({ grant_type: 'client_credentials' }))).name).toBe('invalid_client');
  });

  it('a revoked session answers 401 INVALID_SESSION_ID with the documented body', async () => {
    const o = new jsforce.OAuth2(oauth2(sb));
    const t = await o.requestToken({ grant_type: 'client_credentials' });
    await o.revokeToken(t.access_token);
    const res = await fetch(`${sb.url}/services/data/v62.0/limits`, {
      headers: { authorization: `Bearer ${t.access_token}` },
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual(errors.invalidSession);
  });
});

describe('refresh-token rotation', () => {
  it('returns a new refresh token on each refresh when configured and refuses the old one', async () => {
    const rot = await startSalesforceSandbox({ seed: 12, size: 'small', populate: false, rotateRefreshTokens: true });
    try {
      const o = new jsforce.OAuth2(oauth2(rot));
      const first = await o.refreshToken(rot.credentials.refreshToken);
      expect(first.refresh_token).toMatch(/^5Aep861/);
      expect(first.refresh_token).not.toBe(rot.credentials.refreshToken);
      expect((await rejection(o.refreshToken(rot.credentials.refreshToken))).name).toBe('invalid_grant');
      const second = await o.refreshToken(first.refresh_token!);
      expect(second.refresh_token).not.toBe(first.refresh_token);
    } finally {
      await rot.close();
    }
  });

  it('does not rotate by default', async () => {
    const res = await new jsforce.OAuth2(oauth2(sb)).refreshToken(sb.credentials.refreshToken);
    expect(res.refresh_token).toBeUndefined();
  });
});
