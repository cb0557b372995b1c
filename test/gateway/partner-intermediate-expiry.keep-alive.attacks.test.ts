/**
 * A `caBundle` route checks the validity period of every certificate of the verified
 * path on every request, not only at the handshake: a partner CA may issue a client
 * certificate that outlives its intermediate, and a keep-alive connection opened while
 * the intermediate was valid must stop working the second it expires.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { CertificateAuthority } from '../../src/pki/authority.js';
import { EXT, KU, basicConstraintsValue, ekuValue, encodeName, encodeTbs, extension, keyUsageValue, randomSerial, signStructure } from '../../src/pki/certificate.js';
import { fromPem } from '../../src/pki/pem.js';
import { clientCertificateStep } from '../../src/gateway/client-certificate-policy.js';
import type { RequestContext } from '../../src/gateway/context.js';
import { makeCa } from '../pki/helpers.js';

const TD = 'example.org';
const DAY = 864e5;

async function setup() {
  const node = await makeCa({ trustDomain: TD });
  const partner = await makeCa({ trustDomain: TD });
  // the node verifies on the partner's frozen time: one clock for handshake and requests
  const clock = partner.clock;
  const pki = new CertificateAuthority({ store: node.store, signers: node.signers, clock, urlBase: 'https://id.example', trustDomain: TD, serverLifetimeMs: DAY, clientLifetimeMs: DAY, crlLifetimeMs: DAY, ocspLifetimeMs: 36e5 });
  assert.ok(await pki.load());
  const intermediateNotAfter = partner.ca.cert.notAfter;
  // The partner's CA issued a client certificate valid a day past its own intermediate.
  const spki = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' }));
  const leaf = await signStructure(
    encodeTbs({
      serial: randomSerial(),
      signatureAlgorithm: partner.ca.signer.signatureAlgorithm,
      issuer: partner.ca.cert.subject,
      notBefore: clock.now() - 60_000,
      notAfter: intermediateNotAfter + DAY,
      subject: encodeName([['CN', 'partner-client']]),
      spki,
      extensions: [
        extension(EXT.basicConstraints, true, basicConstraintsValue(false)),
        extension(EXT.keyUsage, true, keyUsageValue([KU.digitalSignature])),
        extension(EXT.extKeyUsage, false, ekuValue(['1.3.6.1.5.5.7.3.2'])),
        partner.ca.template.aki,
      ],
    }),
    partner.ca.signer,
  );
  const intDer = fromPem(partner.intPem, 'CERTIFICATE');
  // one TLS connection: the peer sent its certificate and the partner intermediate
  const socket = {
    encrypted: true,
    getPeerCertificate: () => ({ raw: Buffer.from(leaf) }),
    getPeerX509Certificate: () => ({ raw: Buffer.from(leaf), issuerCertificate: { raw: Buffer.from(intDer), issuerCertificate: undefined } }),
  };
  const step = clientCertificateStep(
    { mapToApp: false, caBundle: 'partner.pem', revocation: 'none' },
    { pki, clock, findApp: () => undefined, anchors: [fromPem(partner.rootPem, 'CERTIFICATE')], anchorsKey: 'bundle:partner.pem', revocation: () => 'good' },
  );
  const request = async (): Promise<void> => {
    const ctx = { req: { socket }, headers: { forward: [] as string[] } } as unknown as RequestContext;
    await step(ctx);
  };
  return { clock, intermediateNotAfter, request };
}

test('attack: a keep-alive connection outlives the partner intermediate it was verified through → cert.expired on the next request', async () => {
  const { clock, intermediateNotAfter, request } = await setup();
  clock.set(intermediateNotAfter - 60_000);
  await request();
  // the last second the intermediate is valid (RFC 5280 times are whole seconds)
  clock.set(intermediateNotAfter + 999);
  await request();
  clock.set(intermediateNotAfter + 1000);
  await assert.rejects(request(), { code: 'cert.expired' });
});

test('attack: the same expired partner intermediate on a new connection is refused at verification → cert.expired', async () => {
  const { clock, intermediateNotAfter, request } = await setup();
  clock.set(intermediateNotAfter + 1000);
  await assert.rejects(request(), { code: 'cert.expired' });
});
