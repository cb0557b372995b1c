/**
 * RFC 8954 §2.1: the nonce is 1 to 32 octets, and RFC 6960 §4.4.1 carries it as the DER
 * of an OCTET STRING in the extension's extnValue. A request whose extnValue holds a short
 * Nonce followed by kilobytes of other bytes passed the length check on the Nonce read from
 * its front, and the whole extnValue was echoed: the CA's key signed whatever the sender
 * appended, far past 32 octets. Refused as malformedRequest over HTTP, as a nonce of 33
 * octets is; openssl's own nonce still verifies.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { OCSPRequest } from '@peculiar/asn1-ocsp';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { CertificateAuthority } from '../../src/pki/authority.js';
import { createHttpServer } from '../../src/http/server.js';
import { pkiRoutes } from '../../src/http/pki-routes.js';
import { ocspResponseStatus } from '../../src/pki/ocsp.js';
import type { Logger } from '../../src/core/logger.js';
import { makeCa, ocspCertStatus, openssl, tmp, writeFiles } from './helpers.js';

const quiet = { error() {}, warn() {}, info() {}, debug() {}, child() { return quiet; } } as unknown as Logger;
const MALFORMED = Buffer.from('30030a0101', 'hex');

const assertMalformed = (res: Buffer): void =>
  assert.ok(res.equals(MALFORMED), `expected malformedRequest, got responseStatus ${ocspResponseStatus(res)} in ${res.length} bytes`);

let app: ReturnType<typeof createHttpServer>;
let url: string;
let files: Record<string, string>;
let dir: string;

before(async () => {
  const t = await makeCa({ trustDomain: 'example.org', t0: Date.now() });
  const pki = new CertificateAuthority({ store: t.store, signers: t.signers, clock: t.clock, urlBase: 'https://id.example', trustDomain: 'example.org', serverLifetimeMs: 864e5, clientLifetimeMs: 864e5, crlLifetimeMs: 864e5, ocspLifetimeMs: 36e5 });
  assert.ok(await pki.load());
  const c = await pki.issue({ profile: 'client', clientId: 'app1' });
  dir = tmp();
  files = writeFiles(dir, { 'root.pem': t.rootPem, 'int.pem': t.intPem, 'leaf.pem': c.certPem });
  app = createHttpServer(quiet);
  await app.register(pkiRoutes, { pki });
  await app.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/pki/ocsp`;
});
after(async () => app?.close());

/** openssl's request for the leaf, with a 16-octet nonce. */
function opensslRequest(): Uint8Array {
  const r = openssl(['ocsp', '-issuer', files['int.pem']!, '-cert', files['leaf.pem']!, '-reqout', `${dir}/req.der`]);
  assert.equal(r.status, 0, r.out);
  return new Uint8Array(readFileSync(`${dir}/req.der`));
}

/** The request with the nonce extension's extnValue replaced by `extnValue(old)`. */
function withNonceValue(der: Uint8Array, extnValue: (old: Buffer) => Buffer): Buffer {
  const req = AsnConvert.parse(der, OCSPRequest);
  const ext = req.tbsRequest.requestExtensions![0]!;
  ext.extnValue = new OctetString(extnValue(Buffer.from(ext.extnValue.buffer)));
  return Buffer.from(AsnConvert.serialize(req));
}

const post = async (body: Uint8Array): Promise<Buffer> => {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: new Uint8Array(body) });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/ocsp-response');
  return Buffer.from(await r.arrayBuffer());
};

test('attack: a 16-octet nonce followed by 4 KiB in the extnValue → malformedRequest, the bytes are not echoed and signed', async () => {
  const res = await post(withNonceValue(opensslRequest(), (n) => Buffer.concat([n, Buffer.alloc(4096, 0x41)])));
  assertMalformed(res);
});

test('attack: a nonce whose OCTET STRING length is not DER (long form for 16 octets) → malformedRequest', async () => {
  const res = await post(withNonceValue(opensslRequest(), (n) => Buffer.concat([Buffer.of(0x04, 0x81, n[1]!), n.subarray(2)])));
  assertMalformed(res);
});

test('attack: a nonce of 33 octets → malformedRequest (RFC 8954 §2.1)', async () => {
  const res = await post(withNonceValue(opensslRequest(), () => Buffer.concat([Buffer.of(0x04, 33), Buffer.alloc(33, 7)])));
  assertMalformed(res);
});

test('openssl ocsp over HTTP: its nonce is echoed and the answer verifies (good)', async () => {
  // asynchronously: the responder answers from this process
  const out = await new Promise<string>((resolve, reject) =>
    execFile('openssl', ['ocsp', '-issuer', files['int.pem']!, '-cert', files['leaf.pem']!, '-CAfile', files['root.pem']!, '-url', url, '-respout', `${dir}/res.der`], (e, stdout, stderr) =>
      e ? reject(new Error(`${e.message}${stdout}${stderr}`)) : resolve(`${stdout}${stderr}`),
    ),
  );
  assert.match(out, /Response verify OK/);
  assert.doesNotMatch(out, /nonce/i);
  assert.equal(ocspCertStatus(new Uint8Array(readFileSync(`${dir}/res.der`))), 'good');
});
