/**
 * private_key_jwt for sign-in apps at the endpoints oidc-provider serves for them (the
 * refresh_token and authorization_code grants, RFC 7009 revocation and RFC 7662
 * introspection of their refresh tokens). RFC 7523 §3 item 7: "The authorization server
 * MAY ensure that JWTs are not replayed by maintaining the set of used 'jti' values for
 * the length of time for which the JWT would be considered valid"; Portcullis does, and
 * accepts an assertion only while its `iat` is at most 10 minutes old (client-auth.ts).
 * The same must hold whichever of the two servers behind /oauth2/* verifies it:
 * - an assertion with no `iat`, or one made an hour ago, is not accepted because its `exp`
 *   lies a year ahead (oidc-provider alone checks only `exp`);
 * - an assertion spent at TokenService (introspecting a JWT access token) is spent at
 *   oidc-provider too, and the other way round (one set of used jti values, not two);
 * - two concurrent uses of one assertion authenticate once (oidc-provider's own replay
 *   check reads, then writes; across nodes, or with PostgreSQL's latency, both may read
 *   "unused").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JWT_BEARER_ASSERTION as JWT_BEARER } from '../../src/tokens/client-auth.js';
import { signInAppNode, unsignedAssertion } from './client-assertion-fixture.js';

const s = signInAppNode();

interface Claims {
  iat?: number | 'none';
  exp?: number;
}

const now = () => Math.floor(Date.now() / 1000);

function assertion(c: Claims = {}): Promise<string> {
  const jwt = unsignedAssertion(s.clientId, s.node.urls.identity!).setExpirationTime(c.exp ?? now() + 120);
  if (c.iat !== 'none') jwt.setIssuedAt(c.iat ?? now());
  return jwt.sign(s.privateKey);
}

async function post(path: string, form: Record<string, string>): Promise<{ status: number; body: { error?: string; active?: boolean } }> {
  const res = await fetch(`${s.node.urls.identity}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as { error?: string }) : {} };
}

/** RFC 7009 at oidc-provider (an opaque token of a sign-in app): 200 once the client authenticated. */
const revokeOpaque = (a: string) => post('/oauth2/revoke', { token: 'not-a-refresh-token', client_id: s.clientId, client_assertion_type: JWT_BEARER, client_assertion: a });
/** RFC 7662 at TokenService (a JWT): 200 active false once the client authenticated. */
const introspectJwt = (a: string) => post('/oauth2/introspect', { token: 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln', client_id: s.clientId, client_assertion_type: JWT_BEARER, client_assertion: a });

function refused(r: { status: number; body: { error?: string } }, what: string): void {
  assert.equal(r.status, 401, `${what}: ${JSON.stringify(r.body)}`);
  assert.equal(r.body.error, 'invalid_client', what);
}

test('a fresh assertion authenticates at both servers (the baseline the attacks below differ from)', async () => {
  assert.equal((await revokeOpaque(await assertion())).status, 200);
  const r = await introspectJwt(await assertion());
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.active, false);
});

test('attack: an assertion without iat, its exp a year ahead, does not authenticate at oidc-provider (401 invalid_client)', async () => {
  refused(await revokeOpaque(await assertion({ iat: 'none', exp: now() + 365 * 86400 })), 'no iat');
});

test('attack: an assertion made an hour ago, its exp a year ahead, does not authenticate at oidc-provider (401 invalid_client)', async () => {
  refused(await revokeOpaque(await assertion({ iat: now() - 3600, exp: now() + 365 * 86400 })), 'iat an hour old');
});

test('attack: an assertion spent at TokenService is refused at oidc-provider, and the other way round (401 invalid_client)', async () => {
  const a = await assertion();
  assert.equal((await introspectJwt(a)).status, 200, 'first use, at TokenService');
  refused(await revokeOpaque(a), 'replayed at oidc-provider');

  const b = await assertion();
  assert.equal((await revokeOpaque(b)).status, 200, 'first use, at oidc-provider');
  refused(await introspectJwt(b), 'replayed at TokenService');
});

test('attack: two concurrent uses of one assertion at oidc-provider authenticate once', async () => {
  const a = await assertion();
  const results = await Promise.all([revokeOpaque(a), revokeOpaque(a), revokeOpaque(a)]);
  assert.deepEqual(results.map((r) => r.status).sort(), [200, 401, 401], JSON.stringify(results));
  for (const r of results.filter((x) => x.status !== 200)) refused(r, 'concurrent replay');
});
