/**
 * Fail closed while Redis is unreachable: every check that needs the shared ephemeral
 * store (signature nonces, client-assertion jti replay, lockout, one-time codes) is
 * refused with 503 `unavailable` — never accepted, never a 500 — within a bounded time,
 * both when the link is cut (connections reset) and when it stalls (a silent peer: no
 * reset, no answer). ioredis runs without an offline queue and with a command timeout,
 * so no check waits for the link to come back. Once it is back, the checks pass again.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { PortcullisError } from '../../src/core/errors.js';
import { OneTimeCodes } from '../../src/mfa/otp/codes.js';
import { randomRedisPrefix, redisUrl, serviceProblem, servicesRequired } from '../support/services.js';
import { startTestNode, testConfig, postForm, type TestNode } from '../support/portcullis.js';
import { openRelay, type Relay } from '../support/tcp-relay.js';
import { startUpstream, type Upstream } from '../gateway/helpers.js';
import { addSigningKey, sendSigned, type TestSigningKey } from '../gateway/message-policy-support.js';

const problem = await serviceProblem('redis');
/** ioredis's command timeout (3 s) plus room for a slow machine. */
const BOUND_MS = 6000;

async function timed<T>(p: Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const start = Date.now();
  try {
    const value = await p;
    return { ms: Date.now() - start, value };
  } catch (error) {
    return { ms: Date.now() - start, error };
  }
}

function unavailable(r: { ms: number; error?: unknown }, what: string): void {
  assert.ok(r.error instanceof PortcullisError && r.error.code === 'unavailable', `${what}: ${String(r.error)}`);
  assert.ok(r.ms < BOUND_MS, `${what} took ${r.ms} ms`);
}

if (problem && !servicesRequired()) {
  test(`redis unreachable [skipped: ${problem}]`, { skip: problem }, () => undefined);
} else {
  describe('while Redis is unreachable every ephemeral check is refused with 503 unavailable, in bounded time', () => {
    let relay: Relay;
    let node: TestNode;
    let up: Upstream;
    let sigKey: TestSigningKey;
    let pk: { clientId: string; privateKey: CryptoKey };
    before(async () => {
      if (problem) throw new Error(`${problem}; PORTCULLIS_REQUIRE_SERVICES=1`);
      relay = await openRelay(redisUrl());
      up = await startUpstream();
      node = await startTestNode({
        config: testConfig(`ephemeral: ${relay.url}\nephemeralPrefix: "${randomRedisPrefix()}"\nroutes:\n  - name: sig\n    match: { pathPrefix: /sig }\n    upstream: ${up.url}\n    require:\n      signature: {}\n`),
      });
      const { app } = await node.services.apps.create({ name: 'sig-client', audiences: ['orders-api'], scopes: [] }, 'test');
      sigKey = await addSigningKey(node, app.clientId, 'hmac-sha256');
      const pair = await generateKeyPair('ES256');
      const created = await node.services.apps.create({ name: 'pk-client', audiences: ['orders-api'], scopes: [], tokenEndpointAuthMethod: 'private_key_jwt', jwks: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256' }] }, 'test');
      pk = { clientId: created.app.clientId, privateKey: pair.privateKey };
    });
    after(async () => {
      await node?.stop();
      await relay?.close();
      await up?.close();
    });

    const signed = () => sendSigned(node.urls.gateway!, { path: '/sig/pay', body: '{"amount":5}', sign: { key: sigKey.key, alg: sigKey.alg, keyid: sigKey.keyid } });
    const assertionGrant = async () => {
      const iat = Math.floor(Date.now() / 1000);
      const assertion = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(pk.clientId).setSubject(pk.clientId)
        .setAudience(`${node.services.config.issuer}/oauth2/token`).setJti(`j-${Math.random()}`).setIssuedAt(iat).setExpirationTime(iat + 60).sign(pk.privateKey);
      return postForm(`${node.urls.identity}/oauth2/token`, { grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion });
    };
    const codes = () => new OneTimeCodes(node.services.ephemeral, node.services.clock, new Uint8Array(32).fill(7));

    test('reachable: the checks pass', async () => {
      const r = await signed();
      assert.equal(r.status, 200, r.text);
      const g = await assertionGrant();
      assert.equal(g.status, 200, JSON.stringify(g.body));
      const c = codes();
      const { code } = await c.issue('email:sign-in:u1');
      await c.verify('email:sign-in:u1', code);
      assert.equal(await node.services.identity.lockout.guard({ account: 'u1', ip: '192.0.2.1' }, async () => 'in'), 'in');
    });

    for (const outage of ['cut', 'stall'] as const) {
      test(`${outage}: signature nonce, client assertion jti, lockout and one-time codes answer unavailable (503), never pass`, async () => {
        const c = codes();
        const { code } = await c.issue('email:sign-in:u2');
        const seen = up.seen.length;
        relay[outage]();
        try {
          const sig = await timed(signed());
          assert.ok(sig.ms < BOUND_MS, `signature check took ${sig.ms} ms`);
          assert.equal(sig.value?.status, 503, sig.value?.text);
          assert.equal((JSON.parse(sig.value!.text) as { code: string }).code, 'unavailable');
          assert.equal(up.seen.length, seen, 'the request never reached the upstream');

          const grant = await timed(assertionGrant());
          assert.ok(grant.ms < BOUND_MS, `token request took ${grant.ms} ms`);
          assert.equal(grant.value?.status, 503, JSON.stringify(grant.value?.body));

          let ran = false;
          unavailable(await timed(node.services.identity.lockout.guard({ account: 'u2', ip: '192.0.2.2' }, async () => void (ran = true))), 'lockout');
          assert.equal(ran, false, 'no attempt is made when its limits cannot be checked');
          unavailable(await timed(c.verify('email:sign-in:u2', code)), 'one-time code');
        } finally {
          relay.restore();
        }
        // back: the checks pass again without a restart
        const start = Date.now();
        let r = await signed();
        while (r.status !== 200 && Date.now() - start < 5000) {
          await new Promise((done) => setTimeout(done, 100));
          r = await signed();
        }
        assert.equal(r.status, 200, r.text);
      });
    }
  });
}
