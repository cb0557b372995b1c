/**
 * The set-up the private_key_jwt client-assertion files share: an ES256 key pair whose public
 * JWK (kid k1) an app registers, a sign-in app registered with it on an OIDC node, and the
 * client assertions its private key signs (iss = sub = the client, a fresh jti).
 */
import { after, before } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { REDIRECT, startOidcNode } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';

/** The audience of the sign-in app `registerSignInApp` registers. */
export const SIGNIN_APP_AUDIENCE = 'https://api.example.test';

export interface ClientKey {
  privateKey: CryptoKey;
  /** The public key, kid k1, for an app's jwks. */
  jwk: JWK;
}

/** A new ES256 key pair for private_key_jwt. */
export async function clientKey(): Promise<ClientKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' } };
}

/** Registers a sign-in app (pkjwt-web, scope read, redirect REDIRECT) whose jwks holds `jwk`: its client id. */
export async function registerSignInApp(node: TestNode, jwk: JWK): Promise<string> {
  return (await node.services.apps.create({ name: 'pkjwt-web', audiences: [SIGNIN_APP_AUDIENCE], scopes: ['read'], redirectUris: [REDIRECT], jwks: [jwk] }, 'test')).app.clientId;
}

/** Waits into the next second: an iat (whole seconds) in the second the replay store started reads as made before it (client-auth.ts spendAssertion). */
export const pastReplayStoreStart = (): Promise<void> => sleep(1000 - (Date.now() % 1000) + 5);

export interface SignInAppNode {
  readonly node: TestNode;
  readonly clientId: string;
  readonly privateKey: CryptoKey;
}

/**
 * An OIDC node with a sign-in app registered with a new key pair. Call at the top of a test
 * file: it registers its own before/after hooks, and the fields are set once `before` ran
 * (then an assertion made now is spendable).
 */
export function signInAppNode(): SignInAppNode {
  const s = {} as { node: TestNode; clientId: string; privateKey: CryptoKey };
  before(async () => {
    s.node = await startOidcNode();
    const { privateKey, jwk } = await clientKey();
    s.privateKey = privateKey;
    s.clientId = await registerSignInApp(s.node, jwk);
    await pastReplayStoreStart();
  });
  after(() => s.node?.stop());
  return s;
}

/** A client assertion of `clientId` for `aud` (header alg ES256, kid k1, and `typ` if given; a fresh jti), its iat and exp not set yet. */
export function unsignedAssertion(clientId: string, aud: string | string[], typ?: string): SignJWT {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: 'k1', ...(typ !== undefined ? { typ } : {}) })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(aud)
    .setJti(crypto.randomUUID());
}

/** A client assertion of `clientId` for `aud`, made now, expiring in two minutes, signed with `privateKey`. */
export const clientAssertion = (privateKey: CryptoKey, clientId: string, aud: string | string[], typ?: string): Promise<string> =>
  unsignedAssertion(clientId, aud, typ).setIssuedAt().setExpirationTime('2m').sign(privateKey);
