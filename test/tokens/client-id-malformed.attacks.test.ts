/**
 * A client_id with control characters (C0, DEL, C1) or bytes that are not UTF-8, sent in
 * the form or in HTTP Basic credentials, at the token, revocation and introspection
 * endpoints (both Portcullis's and oidc-provider's grants): 400 invalid_request naming the
 * parameter (RFC 6749 §5.2), never a client lookup, never raw in the audit trail.
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { startTestNode, basic, type TestNode } from '../support/portcullis.js';

let node: TestNode;
let id: string;
let secret: string;
const looked: string[] = [];

before(async () => {
  node = await startTestNode();
  const r = await node.services.apps.create({ name: 'orders-client', audiences: ['orders-api'], scopes: ['orders:read'] }, 'test');
  id = r.app.clientId;
  secret = r.clientSecret!;
  // Every client lookup, Portcullis's and oidc-provider's, goes through AppService.find / isSignInApp.
  const apps = node.services.apps;
  const find = apps.find.bind(apps);
  const isSignInApp = apps.isSignInApp.bind(apps);
  apps.find = (clientId: string) => (looked.push(clientId), find(clientId));
  apps.isSignInApp = (clientId: string) => (looked.push(clientId), isSignInApp(clientId));
});
after(() => node.stop());
beforeEach(() => {
  looked.length = 0;
});

/** POSTs `body` exactly as given (a raw form, so bytes that are not UTF-8 can be sent). */
async function post(path: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${node.urls.identity}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: typeof body === 'string' ? body : new Blob([new Uint8Array(body)]) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const ENDPOINTS: Array<{ path: string; form: string }> = [
  { path: '/oauth2/token', form: 'grant_type=client_credentials' },
  { path: '/oauth2/token', form: 'grant_type=authorization_code&code=abc&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_verifier=' + 'v'.repeat(43) },
  { path: '/oauth2/token', form: 'grant_type=refresh_token&refresh_token=abc' },
  { path: '/oauth2/revoke', form: 'token=opaque-token' },
  { path: '/oauth2/introspect', form: 'token=opaque-token' },
];

/** Percent-encoded (as a form sends it) client ids that are malformed, and why. */
const MALFORMED_FORM_IDS: Array<[string, string]> = [
  ['app%00x', 'NUL (C0)'],
  ['app%1Fx', 'U+001F (C0)'],
  ['app%0Ax', 'LF (C0)'],
  ['app%7Fx', 'DEL'],
  ['app%C2%85x', 'U+0085 NEL (C1)'],
  ['app%C2%9Fx', 'U+009F (C1)'],
  ['app%FFx', 'a byte that is not UTF-8'],
  ['app%C3%28x', 'a broken UTF-8 sequence'],
  ['app%ED%A0%80x', 'an encoded UTF-16 surrogate'],
];

function assertMalformed(r: { status: number; body: Record<string, unknown> }, where: string, parameter: RegExp): void {
  assert.equal(r.status, 400, `${where}: ${JSON.stringify(r.body)}`);
  assert.equal(r.body.error, 'invalid_request', where);
  assert.match(String(r.body.error_description), parameter, where);
  assert.deepEqual(looked, [], `${where}: no client lookup`);
}

test('attack: a client_id form parameter with control characters or not UTF-8 → 400 invalid_request naming client_id, on every endpoint, before any client lookup', async () => {
  for (const e of ENDPOINTS) {
    for (const [raw, why] of MALFORMED_FORM_IDS) {
      looked.length = 0;
      const r = await post(e.path, `${e.form}&client_id=${raw}&client_secret=${encodeURIComponent(secret)}`);
      assertMalformed(r, `${e.path} ${e.form.slice(0, 30)} client_id with ${why}`, /^client_id /);
      // without a secret too (mutual TLS and public-client lookups read client_id alone)
      looked.length = 0;
      assertMalformed(await post(e.path, `${e.form}&client_id=${raw}`), `${e.path} ${e.form.slice(0, 30)} client_id alone with ${why}`, /^client_id /);
    }
    // a raw byte that is not UTF-8 in the body, not percent-encoded
    looked.length = 0;
    const raw = Buffer.concat([Buffer.from(`${e.form}&client_id=app`), Buffer.from([0xff]), Buffer.from('x')]);
    assertMalformed(await post(e.path, raw), `${e.path} ${e.form.slice(0, 30)} a raw non-UTF-8 byte in client_id`, /^client_id is not valid UTF-8/);
  }
});

test('attack: a control character or non-UTF-8 byte in the client id of HTTP Basic credentials → 400 invalid_request naming the Basic credentials, on every endpoint', async () => {
  const ids: Array<[Buffer, string]> = [
    [Buffer.from('app\u0000x'), 'a raw NUL'],
    [Buffer.from('app%00x'), 'a percent-encoded NUL'],
    [Buffer.from('app\u007fx'), 'a raw DEL'],
    [Buffer.from('app%C2%85x'), 'a percent-encoded C1 control'],
    [Buffer.from('app\u0085x'), 'a raw C1 control'],
    [Buffer.from([0x61, 0x70, 0x70, 0xff, 0x78]), 'a raw byte that is not UTF-8'],
    [Buffer.from('app%FFx'), 'a percent-encoded byte that is not UTF-8'],
  ];
  for (const e of ENDPOINTS) {
    for (const [clientId, why] of ids) {
      looked.length = 0;
      const authorization = `Basic ${Buffer.concat([clientId, Buffer.from(`:${encodeURIComponent(secret)}`)]).toString('base64')}`;
      const r = await post(e.path, e.form, { authorization });
      assertMalformed(r, `${e.path} ${e.form.slice(0, 30)} Basic client id with ${why}`, /Basic/);
    }
  }
});

test('a well-formed client id still authenticates (form and Basic), and a wrong one is still 401 invalid_client', async () => {
  const form = await post('/oauth2/token', `grant_type=client_credentials&client_id=${id}&client_secret=${encodeURIComponent(secret)}`);
  assert.equal(form.status, 200);
  const viaBasic = await post('/oauth2/token', 'grant_type=client_credentials', { authorization: basic(id, secret) });
  assert.equal(viaBasic.status, 200);
  const unknown = await post('/oauth2/token', `grant_type=client_credentials&client_id=app_%C3%A9t%C3%A9&client_secret=x`);
  assert.equal(unknown.status, 401);
  assert.equal(unknown.body.error, 'invalid_client');
});

test('attack: the refused client ids never reach the audit trail raw', async () => {
  for (const [raw] of MALFORMED_FORM_IDS) await post('/oauth2/token', `grant_type=client_credentials&client_id=${raw}&client_secret=x`);
  await node.services.audit.flush();
  const rows = await node.services.store.tailAudit(1000);
  for (const r of rows) {
    const text = JSON.stringify(r);
    assert.doesNotMatch(text, /\\u00[01][0-9a-f]|\\u007f|[\u0000-\u001f\u007f-\u009f\ufffd]/i, `audit row ${text}`);
  }
});
