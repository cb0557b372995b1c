/**
 * A gateway route that signs its responses (`signResponses`, no `require.signature`) in
 * front of an upstream answering account balances (alice 10, anyone else 1,000,000), for
 * the response-binding attack files: the key the gateway signs with, its public JWKS for
 * `verifyResponse`, and a matcher for the error code.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { PortcullisError } from '../../src/core/errors.js';
import { responseSigningStep } from '../../src/gateway/response-signing.js';
import type { PublicJwk } from '../../src/sdk/index.js';
import { route, startGateway, startUpstream } from './helpers.js';

export interface AccountGateway {
  url: string;
  port: number;
  /** The gateway's response-signing key (for tests that forge with it). */
  privateKey: KeyObject;
  /** The public JWKS `verifyResponse` takes. */
  keys: { keys: PublicJwk[] };
  close(): Promise<void>;
}

/** Starts the upstream and the gateway; `kid` names the signing key, `gateway` the gateway section (e.g. `trustedProxies`). */
export async function startAccountGateway(kid: string, gateway?: Record<string, unknown>): Promise<AccountGateway> {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const upstream = await startUpstream((req, res) =>
    req
      .on('end', () => {
        const body = JSON.stringify({ account: req.url, balance: req.url!.includes('alice') ? 10 : 1_000_000 });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      })
      .resume(),
  );
  const gw = await startGateway([route({ name: 'acct', match: { pathPrefix: '/acct' }, upstream: upstream.url, signResponses: true })], {
    steps: (r) => (r.signResponses ? [responseSigningStep({ keys: { signingKey: () => ({ kid, alg: 'ES256', privateKey: pair.privateKey }) }, clock: { now: () => Date.now() } })] : []),
    ...(gateway !== undefined ? { gateway } : {}),
  });
  return {
    url: gw.url,
    port: gw.port,
    privateKey: pair.privateKey,
    keys: { keys: [{ ...pair.publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' } as PublicJwk] },
    close: async () => {
      await gw.close();
      await upstream.close();
    },
  };
}

/** `assert.rejects` matcher: a PortcullisError with this code. */
export const code = (c: string) => (e: unknown) => {
  assert.ok(e instanceof PortcullisError, String(e));
  assert.equal(e.code, c, e.message);
  return true;
};
