/**
 * private_key_jwt for sign-in apps, served by oidc-provider (the authorization_code and
 * refresh_token grants, RFC 7009 revocation of their tokens). RFC 7523 §3: "The JWT MUST
 * contain an aud (audience) claim containing a value that identifies the authorization
 * server as an intended audience … The authorization server MUST reject any JWT that does
 * not contain its own identity as the intended audience." This server's identity is its
 * issuer, not the Host a request names: an assertion a client made for another
 * authorization server (http://other-as.example/oauth2/token) must not authenticate here
 * because the request says `Host: other-as.example`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { JWT_BEARER_ASSERTION as JWT_BEARER } from '../../src/tokens/client-auth.js';
import { clientAssertion, signInAppNode } from './client-assertion-fixture.js';

const s = signInAppNode();

const assertion = (aud: string) => clientAssertion(s.privateKey, s.clientId, aud);

/** POSTs a form to the identity plane naming `host` in the Host header. */
function postAs(host: string, path: string, form: Record<string, string>): Promise<{ status: number; body: { error?: string } }> {
  const url = new URL(s.node.urls.identity!);
  const body = new URLSearchParams(form).toString();
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method: 'POST', setHost: false, headers: { host, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: text ? (JSON.parse(text) as { error?: string }) : {} }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const refresh = async (host: string, aud: string) => postAs(host, '/oauth2/token', { grant_type: 'refresh_token', refresh_token: 'not-a-refresh-token', client_id: s.clientId, client_assertion_type: JWT_BEARER, client_assertion: await assertion(aud) });
const revoke = async (host: string, aud: string) => postAs(host, '/oauth2/revoke', { token: 'not-a-token', client_id: s.clientId, client_assertion_type: JWT_BEARER, client_assertion: await assertion(aud) });

test('attack: an assertion made for another server’s token endpoint does not authenticate at the token endpoint, whatever the Host says (401 invalid_client)', async () => {
  const r = await refresh('other-as.example', 'http://other-as.example/oauth2/token');
  assert.equal(r.status, 401, JSON.stringify(r.body));
  assert.equal(r.body.error, 'invalid_client');
});

test('attack: nor at the revocation endpoint, for its own URL on the other server (401 invalid_client)', async () => {
  const r = await revoke('other-as.example', 'http://other-as.example/oauth2/revoke');
  assert.equal(r.status, 401, JSON.stringify(r.body));
  assert.equal(r.body.error, 'invalid_client');
});

test('the issuer’s token endpoint URL is an audience whatever the Host names (a proxy’s name for this server): the client authenticates', async () => {
  const issuer = s.node.urls.identity!;
  for (const host of [new URL(issuer).host, 'login.example']) {
    const r = await refresh(host, `${issuer}/oauth2/token`);
    assert.equal(r.status, 400, `${host}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error, 'invalid_grant', `${host}: authenticated, then the refresh token is refused`);
    const v = await revoke(host, `${issuer}/oauth2/revoke`);
    assert.equal(v.status, 200, `${host}: ${JSON.stringify(v.body)}`);
  }
});
