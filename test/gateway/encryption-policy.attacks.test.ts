/**
 * `require.encryption` through a whole node: JWE bodies made with `jose` for every
 * accepted algorithm reach the upstream as plaintext with their `cty`; every refusal
 * of issue 5 (and a body bound by `pc_rid` to another X-Request-Id) is answered with its
 * exact code, audited, and the upstream sees nothing;
 * encrypted responses decrypt with the app's key.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSecretKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { compactDecrypt, CompactEncrypt, FlattenedEncrypt, type CompactJWEHeaderParameters, type JWK } from 'jose';
import { decryptFromPortcullis } from '../../src/sdk/index.js';
import { AUDIENCE, createApp, startPolicyNode, type Answer, type PolicyNode, type TestApp, auditMark, deniedSince } from './message-policy-support.js';

const ROUTES = `
  - name: enc
    match: { pathPrefix: /enc/ }
    upstream: UPSTREAM
    maxBodySize: 4kb
    require:
      token: { audience: orders-api }
      encryption: { request: true }
  - name: encpub
    match: { pathPrefix: /encpub }
    upstream: UPSTREAM
    require:
      token: { audience: orders-api }
      encryption: { request: true, response: app-public-key }
  - name: encsym
    match: { pathPrefix: /encsym }
    upstream: UPSTREAM
    signResponses: true
    require:
      token: { audience: orders-api }
      encryption: { request: false, response: app-symmetric-key }
  - name: dironly
    match: { pathPrefix: /dironly }
    upstream: UPSTREAM
    require:
      token: { audience: orders-api }
      encryption: { algorithms: [dir] }
`;

let p: PolicyNode;
let app: TestApp;
let other: TestApp;
let token: string;
let dirKey: { kid: string; key: KeyObject };
let kwKey: { kid: string; key: KeyObject };
let otherDir: { kid: string; key: KeyObject };
let appPrivate: KeyObject;
let appPublicKid: string;

async function symmetric(clientId: string, alg: 'dir' | 'A256KW'): Promise<{ kid: string; key: KeyObject }> {
  const { key, secret } = await p.node.services.appEncryptionKeys.add(clientId, { type: 'symmetric', alg }, 'test');
  return { kid: key.kid, key: createSecretKey(Buffer.from(secret!.k!, 'base64url')) };
}

before(async () => {
  p = await startPolicyNode(ROUTES);
  app = await createApp(p.node, 'encrypter');
  other = await createApp(p.node, 'someone-else');
  token = await app.token();
  dirKey = await symmetric(app.clientId, 'dir');
  kwKey = await symmetric(app.clientId, 'A256KW');
  otherDir = await symmetric(other.clientId, 'dir');
  const pair = generateKeyPairSync('x25519');
  appPrivate = pair.privateKey;
  const added = await p.node.services.appEncryptionKeys.add(app.clientId, { type: 'public', jwk: pair.publicKey.export({ format: 'jwk' }) as JWK }, 'test');
  appPublicKid = added.key.kid;
});
after(() => p.stop());

const plaintext = JSON.stringify({ card: '4111 1111 1111 1111', amount: 12 });

function deployment(type: 'P-256' | 'X25519' | 'RSA-3072') {
  return p.node.services.encryptionKeys.current(type);
}

async function jwe(h: Partial<CompactJWEHeaderParameters> & { alg: string }, key: KeyObject | Uint8Array, data = plaintext): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(data)).setProtectedHeader({ enc: 'A256GCM', cty: 'application/json', aud: AUDIENCE, pc_app: app.clientId, ...h } as CompactJWEHeaderParameters).encrypt(key);
}

async function send(path: string, body: string, type = 'application/jose', tok = token, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(p.gateway + path, { method: 'POST', headers: { authorization: `Bearer ${tok}`, 'content-type': type, ...headers }, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

async function refused(r: () => Promise<Answer>, code: string, status = 400): Promise<void> {
  const seen = p.upstream.seen.length;
  const audits = await auditMark(p.node);
  const a = await r();
  assert.equal(a.json?.code, code, `expected ${code}, got ${a.status} ${a.text}`);
  assert.equal(a.status, status);
  assert.equal(p.upstream.seen.length, seen, 'the upstream saw nothing');
  assert.ok((await deniedSince(p.node, audits)).some((e) => e.reason === code), `gateway.denied audited with ${code}`);
}

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const headerOf = (c: string) => JSON.parse(Buffer.from(c.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
const withHeader = (c: string, h: Record<string, unknown>) => [b64(h), ...c.split('.').slice(1)].join('.');

describe('encrypted request bodies that must pass', () => {
  const cases: Array<[string, () => Promise<string>]> = [
    ['ECDH-ES+A256KW to the published P-256 key', () => jwe({ alg: 'ECDH-ES+A256KW', kid: deployment('P-256').kid }, deployment('P-256').publicKey)],
    ['ECDH-ES+A256KW to the published X25519 key', () => jwe({ alg: 'ECDH-ES+A256KW', kid: deployment('X25519').kid }, deployment('X25519').publicKey)],
    ['RSA-OAEP-256 to the published RSA key', () => jwe({ alg: 'RSA-OAEP-256', kid: deployment('RSA-3072').kid }, deployment('RSA-3072').publicKey)],
    ['dir with the app symmetric key', () => jwe({ alg: 'dir', kid: dirKey.kid }, dirKey.key)],
    ['A256KW with the app symmetric key', () => jwe({ alg: 'A256KW', kid: kwKey.kid }, kwKey.key)],
  ];
  for (const [name, make] of cases) {
    test(`${name}: the upstream gets the plaintext with its cty as Content-Type`, async () => {
      const r = await send('/enc/orders', await make());
      assert.equal(r.status, 200, r.text);
      const seen = p.upstream.seen.at(-1)!;
      assert.equal(seen.body, plaintext);
      assert.equal(seen.headers['content-type'], 'application/json');
      assert.equal(seen.headers['content-length'], String(Buffer.byteLength(plaintext)));
    });
  }

  test('no kid: a dir and an A256KW JWE each open with the app\'s newest key of their alg, whichever kind was made last', async () => {
    // `app` made its dir key first and its A256KW key last; `reversed` the other way round
    const reversed = await createApp(p.node, 'kw-then-dir');
    const kwFirst = await symmetric(reversed.clientId, 'A256KW');
    const dirLast = await symmetric(reversed.clientId, 'dir');
    const cases: Array<[TestApp, 'dir' | 'A256KW', { key: KeyObject }]> = [
      [app, 'dir', dirKey],
      [app, 'A256KW', kwKey],
      [reversed, 'dir', dirLast],
      [reversed, 'A256KW', kwFirst],
    ];
    for (const [who, alg, k] of cases) {
      const r = await send('/enc/orders', await jwe({ alg, pc_app: who.clientId }, k.key), 'application/jose', await who.token());
      assert.equal(r.status, 200, `${who === app ? 'dir then A256KW' : 'A256KW then dir'}, ${alg} without kid: ${r.text}`);
      assert.equal(p.upstream.seen.at(-1)!.body, plaintext);
    }
  });

  test('the JSON serialization (application/jose+json) is accepted too', async () => {
    const k = deployment('P-256');
    const flat = await new FlattenedEncrypt(new TextEncoder().encode(plaintext))
      .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', kid: k.kid, cty: 'application/json', aud: AUDIENCE, pc_app: app.clientId } as CompactJWEHeaderParameters)
      .encrypt(k.publicKey);
    const r = await send('/enc/json', JSON.stringify(flat), 'application/jose+json');
    assert.equal(r.status, 200, r.text);
    assert.equal(p.upstream.seen.at(-1)!.body, plaintext);
  });

  test('a request without a body passes an encryption route (nothing to decrypt)', async () => {
    const res = await fetch(`${p.gateway}/enc/list`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
  });
});

describe('attacks on encrypted bodies, each refused before the upstream', () => {
  const p256 = () => deployment('P-256');
  const good = () => jwe({ alg: 'ECDH-ES+A256KW', kid: p256().kid }, p256().publicKey);

  test('an unencrypted JSON body: jwe.required', () => refused(() => send('/enc/a', plaintext, 'application/json'), 'jwe.required', 415));

  test('RSA1_5 (padding oracle): jwe.alg-not-allowed', async () => {
    const rsa = deployment('RSA-3072');
    const c = await jwe({ alg: 'RSA-OAEP-256', kid: rsa.kid }, rsa.publicKey);
    await refused(() => send('/enc/a', withHeader(c, { ...headerOf(c), alg: 'RSA1_5' })), 'jwe.alg-not-allowed');
  });

  test('PBES2 (password-based): jwe.alg-not-allowed', async () => {
    const c = await jwe({ alg: 'PBES2-HS512+A256KW', kid: dirKey.kid, p2c: 1000 } as never, new TextEncoder().encode('hunter2'));
    await refused(() => send('/enc/a', c), 'jwe.alg-not-allowed');
  });

  test('zip (compression before encryption): jwe.zip-not-allowed', async () => {
    const c = await good();
    await refused(() => send('/enc/a', withHeader(c, { ...headerOf(c), zip: 'DEF' })), 'jwe.zip-not-allowed');
  });

  test('an unknown crit extension: jwe.crit-unsupported', async () => {
    const c = await good();
    await refused(() => send('/enc/a', withHeader(c, { ...headerOf(c), crit: ['pc_unknown'], pc_unknown: 1 })), 'jwe.crit-unsupported');
  });

  test("a JWE naming the key ring's signing key (use sig): jwe.wrong-key-use", async () => {
    const c = await jwe({ alg: 'ECDH-ES+A256KW', kid: p.node.services.keys.signingKey().kid }, p256().publicKey);
    await refused(() => send('/enc/a', c), 'jwe.wrong-key-use');
  });

  test("a JWE addressed to the app's own public key (it can only encrypt): jwe.wrong-key-use", async () => {
    const c = await jwe({ alg: 'ECDH-ES+A256KW', kid: appPublicKid }, p256().publicKey);
    await refused(() => send('/enc/a', c), 'jwe.wrong-key-use');
  });

  test('invalid-curve ephemeral point: jwe.invalid-point', async () => {
    const c = await good();
    const h = headerOf(c) as { epk: Record<string, string> };
    const y = Buffer.from(h.epk.y!, 'base64url');
    y[31] = y[31]! ^ 1;
    await refused(() => send('/enc/a', withHeader(c, { ...h, epk: { ...h.epk, y: y.toString('base64url') } })), 'jwe.invalid-point');
  });

  test('encrypted to another key under the published kid (wrong key): jwe.decrypt-failed', async () => {
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    await refused(async () => send('/enc/a', await jwe({ alg: 'ECDH-ES+A256KW', kid: p256().kid }, stranger)), 'jwe.decrypt-failed');
  });

  test('tampered tag: jwe.decrypt-failed', async () => {
    const parts = (await good()).split('.');
    const tag = Buffer.from(parts[4]!, 'base64url');
    tag[0] = tag[0]! ^ 0xff;
    parts[4] = tag.toString('base64url');
    await refused(() => send('/enc/a', parts.join('.')), 'jwe.decrypt-failed');
  });

  test('tampered ciphertext: jwe.decrypt-failed', async () => {
    const parts = (await good()).split('.');
    const ct = Buffer.from(parts[3]!, 'base64url');
    ct[3] = ct[3]! ^ 1;
    parts[3] = ct.toString('base64url');
    await refused(() => send('/enc/a', parts.join('.')), 'jwe.decrypt-failed');
  });

  test('oversize body (beyond the route maxBodySize): request.body-too-large', async () => {
    const big = await jwe({ alg: 'ECDH-ES+A256KW', kid: p256().kid }, p256().publicKey, 'x'.repeat(5000));
    await refused(() => send('/enc/a', big), 'request.body-too-large', 413);
  });

  test('oversize chunked body (no Content-Length): request.body-too-large', async () => {
    const big = await jwe({ alg: 'ECDH-ES+A256KW', kid: p256().kid }, p256().publicKey, 'x'.repeat(5000));
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(big));
        c.close();
      },
    });
    await refused(async () => {
      const res = await fetch(`${p.gateway}/enc/a`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/jose' }, body: stream, duplex: 'half' } as RequestInit);
      const text = await res.text();
      return { status: res.status, headers: res.headers, text, json: JSON.parse(text) };
    }, 'request.body-too-large', 413);
  });

  test('a protected cty that is not a media type (CR LF header injection, NUL, non-ASCII, not a string): 400 jwe.malformed, never a 502', async () => {
    for (const cty of ['text/plain\r\nx-injected: 1', 'text/plain\u0000', 'tëxt/plain', 'text/', '/plain', 'text/plain; charset', 7]) {
      await refused(async () => send('/enc/orders', await jwe({ alg: 'dir', kid: dirKey.kid, cty } as never, dirKey.key)), 'jwe.malformed');
    }
  });

  test('a cty without a slash means application/<cty> (RFC 7515 §4.1.10); a cty with parameters passes as is', async () => {
    for (const [cty, expected] of [['json', 'application/json'], ['text/plain; charset="utf-8"', 'text/plain; charset="utf-8"']] as const) {
      const r = await send('/enc/orders', await jwe({ alg: 'dir', kid: dirKey.kid, cty }, dirKey.key));
      assert.equal(r.status, 200, r.text);
      assert.equal(p.upstream.seen.at(-1)!.headers['content-type'], expected);
    }
  });

  test("key confusion: an app symmetric key registered for dir used with A256KW, and one registered for A256KW used with dir: jwe.alg-not-allowed (RFC 7517 §4.4)", async () => {
    await refused(async () => send('/enc/orders', await jwe({ alg: 'A256KW', kid: dirKey.kid }, dirKey.key)), 'jwe.alg-not-allowed');
    await refused(async () => send('/enc/orders', await jwe({ alg: 'dir', kid: kwKey.kid }, kwKey.key)), 'jwe.alg-not-allowed');
  });

  test('key confusion: ECDH-ES (direct key agreement) to a published key whose alg is ECDH-ES+A256KW, P-256 and X25519: jwe.alg-not-allowed (RFC 7517 §4.4)', async () => {
    for (const type of ['P-256', 'X25519'] as const) {
      await refused(async () => send('/enc/a', await jwe({ alg: 'ECDH-ES', kid: deployment(type).kid }, deployment(type).publicKey)), 'jwe.alg-not-allowed');
    }
  });

  test('ciphertext made for another route (aud billing-api): jwe.context-mismatch', async () => {
    await refused(async () => send('/enc/a', await jwe({ alg: 'ECDH-ES+A256KW', kid: p256().kid, aud: 'billing-api' }, p256().publicKey)), 'jwe.context-mismatch');
  });

  test('ciphertext made for another app (pc_app of another client): jwe.context-mismatch', async () => {
    await refused(async () => send('/enc/a', await jwe({ alg: 'ECDH-ES+A256KW', kid: p256().kid, pc_app: other.clientId }, p256().publicKey)), 'jwe.context-mismatch');
  });

  test('attack: a request JWE bound to its request (pc_rid) replayed under another X-Request-Id, or none: jwe.context-mismatch; under its own it passes, and a JWE without pc_rid takes any', async () => {
    for (const make of [() => jwe({ alg: 'dir', kid: dirKey.kid, pc_rid: 'req-enc-1' }, dirKey.key), () => jwe({ alg: 'ECDH-ES+A256KW', kid: p256().kid, pc_rid: 'req-enc-1' }, p256().publicKey)]) {
      const bound = await make();
      await refused(() => send('/enc/orders', bound, 'application/jose', token, { 'x-request-id': 'req-enc-2' }), 'jwe.context-mismatch');
      await refused(() => send('/enc/orders', bound), 'jwe.context-mismatch');
      await refused(() => send('/enc/orders', bound, 'application/jose', token, { 'x-request-id': 'req-enc-1, req-enc-1' }), 'jwe.context-mismatch');
      const r = await send('/enc/orders', bound, 'application/jose', token, { 'x-request-id': 'req-enc-1' });
      assert.equal(r.status, 200, r.text);
      assert.equal(p.upstream.seen.at(-1)!.body, plaintext);
    }
    // a pc_rid that is not a string names no request
    await refused(async () => send('/enc/orders', await jwe({ alg: 'dir', kid: dirKey.kid, pc_rid: 1 }, dirKey.key), 'application/jose', token, { 'x-request-id': '1' }), 'jwe.context-mismatch');
    const unbound = await jwe({ alg: 'dir', kid: dirKey.kid }, dirKey.key);
    assert.equal((await send('/enc/orders', unbound, 'application/jose', token, { 'x-request-id': 'anything' })).status, 200);
  });

  test("dir with another app's symmetric key: jwe.unknown-key", async () => {
    await refused(async () => send('/enc/a', await jwe({ alg: 'dir', kid: otherDir.kid }, otherDir.key)), 'jwe.unknown-key');
  });

  test('an unknown kid: jwe.unknown-key', async () => {
    await refused(async () => send('/enc/a', await jwe({ alg: 'ECDH-ES+A256KW', kid: 'no-such-key' }, p256().publicKey)), 'jwe.unknown-key');
  });

  test('an algorithm the route narrowed away (ECDH-ES+A256KW on a dir-only route): jwe.alg-not-allowed', async () => {
    await refused(async () => send('/dironly/a', await good()), 'jwe.alg-not-allowed');
  });
});

describe('encrypted responses', () => {
  test("app-public-key: the response is a JWE to the app's X25519 key, bound to the route audience and app, with the upstream content type as cty", async () => {
    const r = await send('/encpub/x', await jwe({ alg: 'dir', kid: dirKey.kid }, dirKey.key));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('content-type'), 'application/jose');
    const { plaintext: pt, protectedHeader: h } = await compactDecrypt(r.text, appPrivate);
    assert.equal(h.kid, appPublicKid);
    assert.equal(h.alg, 'ECDH-ES+A256KW');
    assert.equal(h.cty, 'application/json');
    assert.equal(h['aud'], AUDIENCE);
    assert.equal(h['pc_app'], app.clientId);
    assert.equal(JSON.parse(new TextDecoder().decode(pt)).body, plaintext, 'the upstream echo, decrypted');
  });

  test('app-symmetric-key (signed too): the response decrypts with the app key and the signature covers the ciphertext', async () => {
    const res = await fetch(`${p.gateway}/encsym/x`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.ok(res.headers.get('signature-input')?.startsWith('sig1=("@status" "content-digest" "@method";req "@authority";req "@path";req "@query";req)'));
    const h = headerOf(text);
    assert.ok(h.kid === dirKey.kid || h.kid === kwKey.kid, 'one of the app symmetric keys');
    const { plaintext: pt } = await compactDecrypt(text, h.kid === dirKey.kid ? dirKey.key : kwKey.key);
    assert.equal(JSON.parse(new TextDecoder().decode(pt)).method, 'GET');
  });

  test('attack: an encrypted response replayed for another request: the response is bound to the X-Request-Id of its request (pc_rid), so the SDK refuses it for any other (jwe.context-mismatch)', async () => {
    const get = (rid?: string) => fetch(`${p.gateway}/encsym/x`, { headers: { authorization: `Bearer ${token}`, ...(rid ? { 'x-request-id': rid } : {}) } });
    const first = await get('req-aaaa-1');
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('x-request-id'), 'req-aaaa-1');
    const recorded = await first.text();
    const key = headerOf(recorded).kid === dirKey.kid ? dirKey.key : kwKey.key;
    const jwk = { kty: 'oct', k: key.export().toString('base64url'), alg: headerOf(recorded).alg === 'A256KW' ? 'A256KW' : 'dir' } as JWK;
    const ok = await decryptFromPortcullis(recorded, jwk, { context: { aud: AUDIENCE, app: app.clientId, requestId: 'req-aaaa-1' } });
    assert.equal(JSON.parse(ok.text()).method, 'GET');
    await assert.rejects(decryptFromPortcullis(recorded, jwk, { context: { aud: AUDIENCE, app: app.clientId, requestId: 'req-bbbb-2' } }), (e: any) => e.code === 'jwe.context-mismatch');
    // without an X-Request-Id the gateway makes one, and says which
    const none = await get();
    const rid = none.headers.get('x-request-id');
    assert.match(String(rid), /^[A-Za-z0-9_-]{16,}$/);
    assert.equal(headerOf(await none.text())['pc_rid'], rid);
  });

  test("attack: an encrypted response (app's symmetric key, same aud and pc_app) reflected back as a request body is refused as jwe.context-mismatch, the upstream sees nothing", async () => {
    const res = await fetch(`${p.gateway}/encsym/x`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    const recorded = await res.text();
    assert.equal(headerOf(recorded)['pc_dir'], 'response', 'a response says it is one');
    await refused(() => send('/enc/orders', recorded), 'jwe.context-mismatch');
  });

  test('an X-Request-Id that cannot be bound (control characters, over 200 characters, sent twice) on a response-encrypting route: 400 request.invalid', async () => {
    const seen = p.upstream.seen.length;
    for (const headers of [{ 'x-request-id': 'a'.repeat(201) }, { 'x-request-id': 'ré' }, { 'x-request-id': 'a, b' }]) {
      const r = await fetch(`${p.gateway}/encsym/x`, { headers: { authorization: `Bearer ${token}`, ...headers } });
      assert.equal(r.status, 400);
      assert.equal(((await r.json()) as { code: string }).code, 'request.invalid');
    }
    assert.equal(p.upstream.seen.length, seen, 'the upstream saw nothing');
  });

  test('an app without a registered public key on an app-public-key route: jwe.unknown-key, the upstream is not called', async () => {
    const otherToken = await other.token();
    await refused(() => send('/encpub/x', plaintext, 'application/json', otherToken), 'jwe.required', 415);
    await refused(async () => {
      const res = await fetch(`${p.gateway}/encpub/y`, { headers: { authorization: `Bearer ${otherToken}` } });
      const text = await res.text();
      return { status: res.status, headers: res.headers, text, json: JSON.parse(text) };
    }, 'jwe.unknown-key');
  });
});


