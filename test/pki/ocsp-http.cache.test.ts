/**
 * The OCSP endpoints' HTTP caching (RFC 5019 §6.2): a signed answer to a GET may be kept
 * by shared caches for a while; an unsigned error status (tryLater, internalError,
 * malformedRequest, unauthorized) may not, or a moment's store outage becomes a minute
 * of `tryLater` for every relying party behind that cache.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BasicOCSPResponse, OCSPResponse } from '@peculiar/asn1-ocsp';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificateAuthority } from '../../src/pki/authority.js';
import { createHttpServer } from '../../src/http/server.js';
import { pkiRoutes } from '../../src/http/pki-routes.js';
import type { Logger } from '../../src/core/logger.js';
import { makeCa, openssl, tmp, writeFiles } from './helpers.js';

const quiet = { error() {}, warn() {}, info() {}, debug() {}, child() { return quiet; } } as unknown as Logger;

test('OCSP GET: a signed answer is cacheable; tryLater (store unavailable) and malformedRequest are not (no-store)', async () => {
  const t = await makeCa({ trustDomain: 'example.org', t0: Date.now() });
  let down = false;
  const store = Object.create(t.store) as typeof t.store;
  store.getCertificate = async (serial) => {
    if (down) throw new Error('connection refused');
    return t.store.getCertificate(serial);
  };
  const pki = new CertificateAuthority({ store, signers: t.signers, clock: t.clock, urlBase: 'https://id.example', trustDomain: 'example.org', serverLifetimeMs: 864e5, clientLifetimeMs: 864e5, crlLifetimeMs: 864e5, ocspLifetimeMs: 36e5 });
  assert.ok(await pki.load());
  const c = await pki.issue({ profile: 'client', clientId: 'app1' });
  const dir = tmp();
  const f = writeFiles(dir, { 'int.pem': t.intPem, 'leaf.pem': c.certPem });
  // two requests for the one certificate: one with a nonce (never served from the responder's cache)
  assert.equal(openssl(['ocsp', '-issuer', f['int.pem']!, '-cert', f['leaf.pem']!, '-reqout', `${dir}/req.der`]).status, 0);
  const path = encodeURIComponent(readFileSync(`${dir}/req.der`).toString('base64'));
  const app = createHttpServer(quiet);
  await app.register(pkiRoutes, { pki });
  await app.ready();
  try {
    const ok = await app.inject({ method: 'GET', url: `/pki/ocsp/${path}` });
    assert.equal(ok.statusCode, 200);
    assert.equal(AsnConvert.parse(new Uint8Array(ok.rawPayload), OCSPResponse).responseStatus, 0, 'successful');
    assert.match(String(ok.headers['cache-control']), /public, max-age=\d+/);
    down = true;
    const later = await app.inject({ method: 'GET', url: `/pki/ocsp/${path}` });
    assert.deepEqual([...later.rawPayload], [0x30, 0x03, 0x0a, 0x01, 0x03], 'tryLater');
    assert.equal(later.headers['cache-control'], 'no-store');
    const malformed = await app.inject({ method: 'GET', url: '/pki/ocsp/MAMCAQ%3D%3D' });
    assert.deepEqual([...malformed.rawPayload], [0x30, 0x03, 0x0a, 0x01, 0x01], 'malformedRequest');
    assert.equal(malformed.headers['cache-control'], 'no-store');
  } finally {
    await app.close();
  }
});

test('attack: a short ocspLifetime does not let shared caches keep a GET answer past its nextUpdate (RFC 5019 §6.2: max-age ends before nextUpdate)', async () => {
  const t = await makeCa({ trustDomain: 'example.org', t0: Date.now() });
  // 60 s answers, re-signed after 30 s: served from the responder's cache 29 s after signing
  const pki = new CertificateAuthority({ store: t.store, signers: t.signers, clock: t.clock, urlBase: 'https://id.example', trustDomain: 'example.org', serverLifetimeMs: 864e5, clientLifetimeMs: 864e5, crlLifetimeMs: 864e5, ocspLifetimeMs: 60_000 });
  assert.ok(await pki.load());
  const c = await pki.issue({ profile: 'client', clientId: 'app1' });
  const dir = tmp();
  const f = writeFiles(dir, { 'int.pem': t.intPem, 'leaf.pem': c.certPem });
  assert.equal(openssl(['ocsp', '-issuer', f['int.pem']!, '-cert', f['leaf.pem']!, '-no_nonce', '-reqout', `${dir}/req.der`]).status, 0);
  const path = encodeURIComponent(readFileSync(`${dir}/req.der`).toString('base64'));
  const app = createHttpServer(quiet);
  await app.register(pkiRoutes, { pki, clock: t.clock });
  await app.ready();
  try {
    const first = await app.inject({ method: 'GET', url: `/pki/ocsp/${path}` });
    t.clock.advance(29_000);
    const later = await app.inject({ method: 'GET', url: `/pki/ocsp/${path}` });
    assert.deepEqual(later.rawPayload, first.rawPayload, 'the responder served its cached answer');
    const basic = AsnConvert.parse(AsnConvert.parse(new Uint8Array(later.rawPayload), OCSPResponse).responseBytes!.response.buffer, BasicOCSPResponse);
    const nextUpdate = basic.tbsResponseData.responses[0]!.nextUpdate!;
    const maxAge = Number(/max-age=(\d+)/.exec(String(later.headers['cache-control']))?.[1]);
    assert.ok(t.clock.now() + maxAge * 1000 < nextUpdate.getTime(), `max-age=${maxAge} keeps the answer until ${new Date(t.clock.now() + maxAge * 1000).toISOString()}, past its nextUpdate ${nextUpdate.toISOString()}`);
    assert.equal(later.headers.expires, nextUpdate.toUTCString(), 'Expires is the nextUpdate');
  } finally {
    await app.close();
  }
});
