/**
 * A user for whom MFA is required keeps at least one usable second factor: removing the
 * last one is 409 `mfa.last-factor`. Two removals sent at the same moment (two tabs, or
 * an attacker racing the user) must not both pass that check, each seeing the other
 * factor still there, and leave the account with none: the check and the removal are one.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { actionOf, csrfOf } from '../support/oidc-harness.js';
import { enrolTotp, registerOidcApp, signIn, startOidcNode, type OidcApp } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';

const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';
let node: TestNode;
let app: OidcApp;
let account: string;

before(async () => {
  node = await startOidcNode('identity: { otp: { channel: email, sender: file } }');
  app = await registerOidcApp(node, AUD);
  account = `${node.urls.identity}/account`;
});
after(async () => node?.stop());

test('attack: two concurrent removals of the last two second factors → one 200, one 409 mfa.last-factor; a usable factor remains', async () => {
  const offered = node.services.identity.factors.map((f) => f.id);
  const otp = 'email';
  for (let round = 0; round < 3; round++) {
    const email = `race-${round}@example.test`;
    const u = await node.services.identity.users.add({ email, password: PASSWORD, mfaRequired: true }, 'test');
    const secret = await enrolTotp(node, u.id);
    await node.services.store.putEnrollment({ userId: u.id, factorId: otp, status: 'confirmed', data: { address: email }, createdAt: Date.now(), confirmedAt: Date.now() });
    const { browser } = await signIn(node, app, AUD, email, PASSWORD, { totpSecret: secret });
    const page = await browser.request(account);
    const remove = (factor: string) => browser.request(actionOf(page.body, 'factors/remove', node.urls.identity!), { form: { 'current-password': PASSWORD, csrf: csrfOf(page.body), factor } });
    // Both removals read the user's factors before either deletes: each read of the passkeys
    // (the last read of the page's check) waits, up to 300 ms, for the other to reach it too.
    const store = node.services.store;
    const read = store.listWebAuthnCredentials.bind(store);
    let waiting: (() => void) | undefined;
    store.listWebAuthnCredentials = async (userId: string) => {
      if (userId === u.id) {
        if (waiting) waiting();
        else await new Promise<void>((resolve) => {
          waiting = resolve;
          setTimeout(resolve, 300);
        });
      }
      return read(userId);
    };
    let answers;
    try {
      answers = await Promise.all([remove('totp'), remove(otp)]);
    } finally {
      store.listWebAuthnCredentials = read;
    }
    const statuses = answers.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 409], answers.map((r) => r.body.slice(0, 300)).join('\n'));
    const refused = answers.find((r) => r.status === 409)!;
    assert.match(refused.body, /data-code="mfa.last-factor"/);
    const left = (await node.services.store.listEnrollments(u.id)).filter((e) => e.status === 'confirmed' && offered.includes(e.factorId) && e.factorId !== 'recovery-code');
    assert.equal(left.length, 1, `round ${round}: exactly one usable second factor is left`);
  }
});
