/**
 * A security key in software for WebAuthn tests: one P-256 credential with `none`
 * attestation, built from the W3C WebAuthn L3 formats (CBOR through @simplewebauthn's
 * own helpers), whose signature counter and user-verification flag the test sets at
 * will — which Chromium's virtual authenticator does not allow.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

export const b64u = (b: Uint8Array | Buffer) => Buffer.from(b).toString('base64url');
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest();
const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_BE = 0x08;
const FLAG_BS = 0x10;
const FLAG_AT = 0x40;

/** A security key in software: one P-256 credential, a signature counter the test controls. */
export class SoftAuthenticator {
  readonly credentialId = randomBytes(16);
  private readonly key: { privateKey: KeyObject; publicKey: KeyObject };
  counter = 0;
  /** The user handle (base64url) the site gave at registration, which a discoverable credential returns with each assertion. */
  userHandle: string | null = null;
  /** A synced passkey (a cloud keychain's): backup eligible and backed up (BE and BS flags), so its key is not bound to one device's hardware. */
  synced = false;
  /** Members merged into every clientDataJSON (e.g. `crossOrigin: true`, `topOrigin`, as a browser sets them in a cross-origin iframe). */
  clientDataFields: Record<string, unknown> = {};

  constructor(
    public origin: string,
    private readonly rpId: string,
  ) {
    this.key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  }

  /** A copy holding the same private key and credential (a cloned authenticator). */
  clone(): SoftAuthenticator {
    const c = Object.create(SoftAuthenticator.prototype) as SoftAuthenticator;
    Object.assign(c, { credentialId: this.credentialId, key: this.key, counter: this.counter, userHandle: this.userHandle, synced: this.synced, clientDataFields: { ...this.clientDataFields }, origin: this.origin, rpId: this.rpId });
    return c;
  }

  private authData(flags: number, counter: number, attested?: Buffer): Buffer {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    return Buffer.concat([sha256(this.rpId), Buffer.from([flags | (this.synced ? FLAG_BE | FLAG_BS : 0)]), c, ...(attested ? [attested] : [])]);
  }

  private clientData(type: string, challenge: string): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin: this.origin, crossOrigin: false, ...this.clientDataFields }));
  }

  /** navigator.credentials.create() answered with `none` attestation, serialised as the page script sends it. */
  register(options: { challenge: string; user?: { id: string } }, uv = true): string {
    this.userHandle = options.user?.id ?? null;
    const jwk = this.key.publicKey.export({ format: 'jwk' }) as { x: string; y: string };
    const cose = isoCBOR.encode(new Map<number, number | Uint8Array>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x, 'base64url')], [-3, Buffer.from(jwk.y, 'base64url')]]));
    const idLen = Buffer.alloc(2);
    idLen.writeUInt16BE(this.credentialId.length);
    const attested = Buffer.concat([Buffer.alloc(16), idLen, this.credentialId, Buffer.from(cose)]);
    const authData = this.authData(FLAG_UP | (uv ? FLAG_UV : 0) | FLAG_AT, this.counter, attested);
    const attestationObject = isoCBOR.encode(new Map<string, unknown>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]) as never);
    const id = b64u(this.credentialId);
    return JSON.stringify({ id, rawId: id, type: 'public-key', clientExtensionResults: {}, response: { clientDataJSON: b64u(this.clientData('webauthn.create', options.challenge)), attestationObject: b64u(attestationObject), transports: ['usb'] } });
  }

  /**
   * navigator.credentials.get(): the counter moves to `counter` (default: one more); the
   * assertion carries `userHandle` (default: the one given at registration; null: none).
   */
  assert(options: { challenge: string }, opts: { uv?: boolean; counter?: number; userHandle?: string | null } = {}): string {
    this.counter = opts.counter ?? this.counter + 1;
    const authData = this.authData(FLAG_UP | (opts.uv ? FLAG_UV : 0), this.counter);
    const clientDataJSON = this.clientData('webauthn.get', options.challenge);
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), this.key.privateKey);
    const id = b64u(this.credentialId);
    const userHandle = opts.userHandle === undefined ? this.userHandle : opts.userHandle;
    return JSON.stringify({ id, rawId: id, type: 'public-key', clientExtensionResults: {}, response: { clientDataJSON: b64u(clientDataJSON), authenticatorData: b64u(authData), signature: b64u(signature), ...(userHandle !== null ? { userHandle } : {}) } });
  }
}

