/**
 * RFC 6749 §5.2: "Values for the error_description parameter MUST NOT include characters
 * outside the set %x20-21 / %x23-5B / %x5D-7E." The token endpoints name the offending
 * grant_type, resource or token_type_hint in the description; a client that sends control
 * characters, quotes, backslashes or non-ASCII there must not have them echoed back.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestNode, basic, postForm, type TestNode } from '../support/portcullis.js';

let node: TestNode;
let auth: Record<string, string>;
before(async () => {
  node = await startTestNode();
  const { app, clientSecret } = await node.services.apps.create({ name: 'charset', audiences: ['api'], scopes: ['read'] }, 'test');
  auth = { authorization: basic(app.clientId, clientSecret!) };
});
after(() => node.stop());

const ALLOWED = /^[\x20\x21\x23-\x5B\x5D-\x7E]*$/;
const NASTY = 'x\u0000\r\n"\\é\u2028y';

for (const [name, path, form, error] of [
  ['grant_type', '/oauth2/token', { grant_type: NASTY }, 'unsupported_grant_type'],
  ['resource', '/oauth2/token', { grant_type: 'client_credentials', resource: NASTY }, 'invalid_target'],
  ['token_type_hint', '/oauth2/revoke', { token: 't', token_type_hint: NASTY }, 'unsupported_token_type'],
] as const) {
  test(`attack: a ${name} with control characters, quotes and non-ASCII → 400 ${error}, error_description within the RFC 6749 §5.2 set`, async () => {
    const r = await postForm(`${node.urls.identity}${path}`, form, auth);
    assert.equal(r.status, 400);
    assert.equal(r.body.error, error);
    assert.match(r.body.error_description, ALLOWED, JSON.stringify(r.body.error_description));
  });
}
