/**
 * Transit over HTTP on a real node: the admin plane manages keys and runs operations
 * with the admin token; apps run operations on the identity plane with an access
 * token scoped `transit:<op>:<name>` for the `portcullis-transit` audience. Attacks:
 * no token, a token for another audience, a scope for another key or operation, a
 * revoked token, a ciphertext below minDecryptionVersion — each with its exact code.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestNode, type TestNode } from '../support/portcullis.js';
import { TRANSIT_AUDIENCE } from '../../src/http/transit-ops.js';
import { TransitKey } from '../../src/http/admin/encryption-schemas.js';
import { localFetch as fetch } from './local-fetch.js';

let node: TestNode;
const b64 = (s: string) => Buffer.from(s).toString('base64');

async function call(base: string, path: string, body: unknown, token: string | null): Promise<{ status: number; headers: Headers; body: any }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const res = await fetch(base + path, { method: body === undefined ? 'GET' : 'POST', headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}
const admin = (path: string, body?: unknown) => call(node.urls.admin!, path, body, node.adminToken);
const app = (path: string, body: unknown, token: string | null) => call(node.urls.identity!, `/transit/v1${path}`, body, token);

async function appToken(scopes: string[], audiences = [TRANSIT_AUDIENCE]): Promise<{ token: string; clientId: string }> {
  const { app: a, clientSecret } = await node.services.apps.create({ name: 'transit-user', audiences, scopes }, 'test');
  const res = await fetch(`${node.urls.identity}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${a.clientId}:${clientSecret}`).toString('base64')}` },
    body: 'grant_type=client_credentials',
  });
  const json = (await res.json()) as { access_token: string };
  assert.equal(res.status, 200);
  return { token: json.access_token, clientId: a.clientId };
}

before(async () => {
  node = await startTestNode();
  for (const [name, type] of [['orders-db', 'aes256-gcm'], ['other-db', 'aes256-gcm'], ['docs-sign', 'ed25519']] as const) {
    const r = await admin('/v1/transit/keys', { name, type });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    TransitKey.parse(r.body.key);
  }
});
after(() => node.stop());

describe('transit on the admin plane (admin token)', () => {
  test('create, list and read keys; a taken name is a conflict', async () => {
    assert.deepEqual((await admin('/v1/transit/keys')).body.keys, ['docs-sign', 'orders-db', 'other-db']);
    const k = await admin('/v1/transit/keys/docs-sign');
    assert.equal(k.body.key.type, 'ed25519');
    assert.equal(typeof k.body.key.versions[0].public_key, 'string');
    assert.equal((await admin('/v1/transit/keys', { name: 'orders-db' })).body.code, 'conflict');
    assert.equal((await admin('/v1/transit/keys/nope')).body.code, 'transit.key-not-found');
  });

  test('encrypt/decrypt round trip with context; another context fails with transit.decrypt-failed', async () => {
    const enc = await admin('/v1/transit/encrypt/orders-db', { plaintext: b64('4111 1111 1111 1111'), context: b64('customer:7') });
    assert.equal(enc.status, 200);
    assert.match(enc.body.ciphertext, /^pc:v1:/);
    assert.equal(enc.body.key_version, 1);
    const dec = await admin('/v1/transit/decrypt/orders-db', { ciphertext: enc.body.ciphertext, context: b64('customer:7') });
    assert.equal(Buffer.from(dec.body.plaintext, 'base64').toString(), '4111 1111 1111 1111');
    const wrong = await admin('/v1/transit/decrypt/orders-db', { ciphertext: enc.body.ciphertext, context: b64('customer:8') });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.code, 'transit.decrypt-failed');
  });

  test('batch input: each item succeeds or fails on its own', async () => {
    const enc = await admin('/v1/transit/encrypt/orders-db', { batch_input: [{ plaintext: b64('a') }, { plaintext: 'not base64!' }, { plaintext: b64('c') }] });
    assert.equal(enc.status, 200);
    const [a, bad, c] = enc.body.batch_results;
    assert.match(a.ciphertext, /^pc:v1:/);
    assert.equal(bad.error.code, 'transit.invalid-input');
    const dec = await admin('/v1/transit/decrypt/orders-db', { batch_input: [{ ciphertext: c.ciphertext }, { ciphertext: 'pc:v1:AAAA' }, { ciphertext: a.ciphertext }] });
    assert.deepEqual(dec.body.batch_results.map((r: any) => r.plaintext ?? r.error.code), [b64('c'), 'transit.malformed-ciphertext', b64('a')]);
  });

  test('datakey plaintext and wrapped; the wrapped key decrypts to the plaintext key', async () => {
    const dk = await admin('/v1/transit/datakey/orders-db', { type: 'plaintext', context: b64('blob-1') });
    assert.equal(Buffer.from(dk.body.plaintext, 'base64').length, 32);
    const back = await admin('/v1/transit/decrypt/orders-db', { ciphertext: dk.body.ciphertext, context: b64('blob-1') });
    assert.equal(back.body.plaintext, dk.body.plaintext);
    const wrapped = await admin('/v1/transit/datakey/orders-db', { type: 'wrapped', bits: 512 });
    assert.equal(wrapped.body.plaintext, undefined);
    assert.match(wrapped.body.ciphertext, /^pc:v1:/);
  });

  test('sign/verify with ed25519 and hmac/verify; a changed input does not verify; sign with an AES key is transit.wrong-key-type', async () => {
    const sig = await admin('/v1/transit/sign/docs-sign', { input: b64('contract v1') });
    assert.equal((await admin('/v1/transit/verify/docs-sign', { input: b64('contract v1'), signature: sig.body.signature })).body.valid, true);
    assert.equal((await admin('/v1/transit/verify/docs-sign', { input: b64('contract v2'), signature: sig.body.signature })).body.valid, false);
    const mac = await admin('/v1/transit/hmac/orders-db', { input: b64('row-42'), algorithm: 'sha2-512' });
    assert.equal((await admin('/v1/transit/verify/orders-db', { input: b64('row-42'), hmac: mac.body.hmac, algorithm: 'sha2-512' })).body.valid, true);
    assert.equal((await admin('/v1/transit/verify/orders-db', { input: b64('row-43'), hmac: mac.body.hmac, algorithm: 'sha2-512' })).body.valid, false);
    assert.equal((await admin('/v1/transit/sign/orders-db', { input: b64('x') })).body.code, 'transit.wrong-key-type');
  });

  test('a verify batch may mix signatures and HMACs (its schema allows both): each item is answered on its own, in order', async () => {
    const sig = (await admin('/v1/transit/sign/docs-sign', { input: b64('doc') })).body.signature;
    const mac = (await admin('/v1/transit/hmac/docs-sign', { input: b64('row') })).body.hmac;
    const r = await admin('/v1/transit/verify/docs-sign', {
      batch_input: [
        { input: b64('doc'), signature: sig },
        { input: b64('row'), hmac: mac },
        { input: b64('doc'), hmac: 'pc:v1:bad' },
        { input: b64('other'), signature: sig },
        { input: b64('row'), hmac: mac, algorithm: 'sha2-512' },
      ],
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.batch_results, [{ valid: true }, { valid: true }, { error: { code: 'transit.malformed-ciphertext', message: 'the hmac is not of the form pc:v<version>:<base64>' } }, { valid: false }, { valid: false }]);
    // signatures against an AES key: the key type fails the whole call, as it does for one item
    const aes = await admin('/v1/transit/verify/orders-db', { batch_input: [{ input: b64('row'), hmac: mac }, { input: b64('doc'), signature: sig }] });
    assert.equal(aes.status, 400);
    assert.equal(aes.body.code, 'transit.wrong-key-type');
  });

  test('attack: a batch whose every item fails its input checks still fails as a whole on an unknown key (404 transit.key-not-found) or a key of the wrong type (400 transit.wrong-key-type), never 200 with per-item errors', async () => {
    const bad = 'not base64!';
    const cases: Array<[string, string, unknown[], number, string]> = [
      ['encrypt', 'nope', [{ plaintext: bad }], 404, 'transit.key-not-found'],
      ['encrypt', 'docs-sign', [{ plaintext: bad }, { plaintext: b64('a'), context: bad }], 400, 'transit.wrong-key-type'],
      ['decrypt', 'docs-sign', [{ ciphertext: 'pc:v1:AAAA', context: bad }], 400, 'transit.wrong-key-type'],
      ['rewrap', 'nope', [{ ciphertext: 'pc:v1:AAAA', context: bad }], 404, 'transit.key-not-found'],
      ['datakey', 'docs-sign', [{ context: bad }], 400, 'transit.wrong-key-type'],
      ['sign', 'orders-db', [{ input: bad }], 400, 'transit.wrong-key-type'],
      ['hmac', 'nope', [{ input: bad }], 404, 'transit.key-not-found'],
      ['verify', 'nope', [{ input: bad, hmac: 'pc:v1:AAAA' }], 404, 'transit.key-not-found'],
      // a verify batch mixing both: its signature items (all with bad input) against an AES key fail the call, as valid ones do
      ['verify', 'orders-db', [{ input: b64('row'), hmac: 'pc:v1:AAAA' }, { input: bad, signature: 'pc:v1:AAAA' }], 400, 'transit.wrong-key-type'],
    ];
    for (const [op, key, items, status, code] of cases) {
      const r = await admin(`/v1/transit/${op}/${key}`, { batch_input: items });
      assert.equal(r.status, status, `${op} ${key}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.code, code, `${op} ${key}`);
    }
  });

  test('attack: a single call checks its key before its input, as a batch does: bad base64 on an unknown key is 404 transit.key-not-found and on a key of the wrong type 400 transit.wrong-key-type, so the error a caller gets never depends on which input it sent', async () => {
    const bad = 'not base64!';
    const cases: Array<[string, string, Record<string, unknown>, number, string]> = [
      ['encrypt', 'nope', { plaintext: bad }, 404, 'transit.key-not-found'],
      ['encrypt', 'docs-sign', { plaintext: bad }, 400, 'transit.wrong-key-type'],
      ['decrypt', 'nope', { ciphertext: 'pc:v1:AAAA', context: bad }, 404, 'transit.key-not-found'],
      ['decrypt', 'docs-sign', { ciphertext: 'pc:v1:AAAA', context: bad }, 400, 'transit.wrong-key-type'],
      ['rewrap', 'nope', { ciphertext: 'pc:v1:AAAA', context: bad }, 404, 'transit.key-not-found'],
      ['datakey', 'docs-sign', { context: bad }, 400, 'transit.wrong-key-type'],
      ['sign', 'orders-db', { input: bad }, 400, 'transit.wrong-key-type'],
      ['sign', 'nope', { input: bad }, 404, 'transit.key-not-found'],
      ['hmac', 'nope', { input: bad }, 404, 'transit.key-not-found'],
      ['verify', 'nope', { input: bad, hmac: 'pc:v1:AAAA' }, 404, 'transit.key-not-found'],
      ['verify', 'orders-db', { input: bad, signature: 'pc:v1:AAAA' }, 400, 'transit.wrong-key-type'],
    ];
    for (const [op, key, item, status, code] of cases) {
      const single = await admin(`/v1/transit/${op}/${key}`, item);
      assert.equal(single.status, status, `${op} ${key}: ${JSON.stringify(single.body)}`);
      assert.equal(single.body.code, code, `${op} ${key}`);
      const batch = await admin(`/v1/transit/${op}/${key}`, { batch_input: [item] });
      assert.equal(batch.body.code, code, `${op} ${key} as a batch of one`);
    }
    // on a key that exists and fits, the input error is the answer
    assert.equal((await admin('/v1/transit/encrypt/orders-db', { plaintext: bad })).body.code, 'transit.invalid-input');
  });

  test('rotate, rewrap to v2, then min_decryption_version=2 retires v1 ciphertexts (transit.version-retired)', async () => {
    await admin('/v1/transit/keys', { name: 'rotating' });
    const v1 = (await admin('/v1/transit/encrypt/rotating', { plaintext: b64('old') })).body.ciphertext;
    const rotated = await admin('/v1/transit/keys/rotating/rotate', {});
    assert.equal(rotated.body.key.latest_version, 2);
    const rewrapped = await admin('/v1/transit/rewrap/rotating', { ciphertext: v1 });
    assert.match(rewrapped.body.ciphertext, /^pc:v2:/);
    const cfg = await admin('/v1/transit/keys/rotating/config', { min_decryption_version: 2 });
    assert.equal(cfg.body.key.min_decryption_version, 2);
    const old = await admin('/v1/transit/decrypt/rotating', { ciphertext: v1 });
    assert.equal(old.body.code, 'transit.version-retired');
    assert.equal(Buffer.from((await admin('/v1/transit/decrypt/rotating', { ciphertext: rewrapped.body.ciphertext })).body.plaintext, 'base64').toString(), 'old');
  });

  test('attack: lowering min_decryption_version brings retired versions back; the change is audited as transit.key-configured with reason min-decryption-version-lowered, the previous floors and the versions it reactivated', async () => {
    await admin('/v1/transit/keys', { name: 'lowered' });
    const v1 = (await admin('/v1/transit/encrypt/lowered', { plaintext: b64('retired') })).body.ciphertext;
    await admin('/v1/transit/keys/lowered/rotate', {});
    await admin('/v1/transit/keys/lowered/rotate', {});
    const configured = async (body: unknown) => {
      await node.services.audit.flush();
      const before = (await node.services.store.tailAudit(1))[0]?.seq ?? 0;
      const r = await admin('/v1/transit/keys/lowered/config', body);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      await node.services.audit.flush();
      const rows = (await node.services.store.tailAudit(50)).filter((e) => e.seq > before && e.type === 'transit.key-configured');
      assert.equal(rows.length, 1);
      return { reason: rows[0]!.reason, data: rows[0]!.data };
    };
    assert.deepEqual(await configured({ min_decryption_version: 3 }), {
      reason: null,
      data: { key: 'lowered', minDecryptionVersion: 3, minEncryptionVersion: 0, autoRotate: true, previous: { minDecryptionVersion: 1, minEncryptionVersion: 0, autoRotate: true } },
    });
    assert.equal((await admin('/v1/transit/decrypt/lowered', { ciphertext: v1 })).body.code, 'transit.version-retired');
    // allowed, as Vault allows it (the versions were retired, not destroyed), but never silently
    assert.deepEqual(await configured({ min_decryption_version: 1 }), {
      reason: 'min-decryption-version-lowered',
      data: { key: 'lowered', minDecryptionVersion: 1, minEncryptionVersion: 0, autoRotate: true, previous: { minDecryptionVersion: 3, minEncryptionVersion: 0, autoRotate: true }, reactivatedVersions: { from: 1, to: 2 } },
    });
    assert.equal(Buffer.from((await admin('/v1/transit/decrypt/lowered', { ciphertext: v1 })).body.plaintext, 'base64').toString(), 'retired');
  });

  test('a 3 MiB plaintext (over the admin plane\'s 256 KiB, within the transit 8 MiB) encrypts and decrypts', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 0x61);
    const enc = await admin('/v1/transit/encrypt/orders-db', { plaintext: big.toString('base64') });
    assert.equal(enc.status, 200, JSON.stringify(enc.body).slice(0, 200));
    const dec = await admin('/v1/transit/decrypt/orders-db', { ciphertext: enc.body.ciphertext });
    assert.equal(dec.status, 200);
    assert.ok(Buffer.from(dec.body.plaintext, 'base64').equals(big));
  });

  test('attack: a transit body over 8 MiB → 413 problem+json request.body-too-large, before any operation', async () => {
    const r = await admin('/v1/transit/encrypt/orders-db', { plaintext: 'A'.repeat(8 * 1024 * 1024) });
    assert.equal(r.status, 413);
    assert.equal(r.body.code, 'request.body-too-large');
  });

  test('attack: a 300 KiB body on an admin route that is not a transit operation → 413 request.body-too-large (the plane keeps 256 KiB)', async () => {
    const r = await admin('/v1/transit/keys', { name: 'x'.repeat(300 * 1024) });
    assert.equal(r.status, 413);
    assert.equal(r.body.code, 'request.body-too-large');
  });

  test('transit operations without the admin token are admin.unauthorized', async () => {
    const r = await call(node.urls.admin!, '/v1/transit/encrypt/orders-db', { plaintext: b64('x') }, null);
    assert.equal(r.status, 401);
    assert.equal(r.body.code, 'admin.unauthorized');
  });
});

  test('a transit call on the admin plane whose body is refused (parser, limit, schema) is audited once as transit.<op> by admin with the reason, never with the body; one without the admin token is not a transit event', async () => {
    const marker = 'YWRtaW4tbWFya2VyLTkxMjM=';
    const cases: Array<[op: string, type: string, body: string, status: number, code: string]> = [
      ['encrypt', 'application/json', `{"plaintext":"${marker}"`, 400, 'request.malformed'],
      ['decrypt', 'application/json', `{"ciphertext":"${marker}","ciphertext":"pc:v1:AAAA"}`, 400, 'request.invalid'],
      ['encrypt', 'application/json; charset=utf-16', `{"plaintext":"${marker}"}`, 415, 'request.unsupported-media-type'],
      ['encrypt', 'text/plain', marker, 400, 'request.invalid'],
      ['encrypt', 'application/json', `{"plaintext":"${marker}${'A'.repeat(8 * 1024 * 1024)}"}`, 413, 'request.body-too-large'],
      ['encrypt', 'application/json', `{"plaintext":42,"note":"${marker}"}`, 400, 'request.invalid'],
      ['hmac', 'application/json', `{"input":"${marker}"}`, 404, 'transit.key-not-found'],
    ];
    for (const [op, type, body, status, code] of cases) {
      const key = op === 'hmac' ? 'no-such-key' : 'orders-db';
      await node.services.audit.flush();
      const before = (await node.services.store.tailAudit(1))[0]?.seq ?? 0;
      const res = await fetch(`${node.urls.admin}/v1/transit/${op}/${key}`, { method: 'POST', headers: { 'content-type': type, authorization: `Bearer ${node.adminToken}` }, body });
      const text = await res.text();
      assert.equal(res.status, status, `${type} ${body.slice(0, 60)}: ${text.slice(0, 200)}`);
      assert.equal(JSON.parse(text).code, code);
      await node.services.audit.flush();
      const rows = (await node.services.store.tailAudit(50)).filter((e) => e.seq > before);
      assert.deepEqual(
        rows.map((e) => ({ type: e.type, actor: e.actor, clientId: e.clientId, reason: e.reason, data: e.data })),
        [{ type: `transit.${op}`, actor: 'admin', clientId: null, reason: code, data: { key } }],
        `${type} ${body.slice(0, 60)}`,
      );
      assert.ok(!JSON.stringify(rows).includes(marker), 'the body is not in the audit log');
    }
    // without the admin token the body is not read: the refusal is admin.denied, not a transit call
    await node.services.audit.flush();
    const before = (await node.services.store.tailAudit(1))[0]?.seq ?? 0;
    const anon = await fetch(`${node.urls.admin}/v1/transit/encrypt/orders-db`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"plaintext":' });
    assert.equal(anon.status, 401);
    await node.services.audit.flush();
    const rows = (await node.services.store.tailAudit(50)).filter((e) => e.seq > before);
    assert.deepEqual(rows.filter((e) => e.type.startsWith('transit.')), []);
  });

describe('transit on the identity plane (app tokens with transit scopes)', () => {
  test('an app with transit:encrypt:orders-db encrypts; the admin decrypts its ciphertext; the call is audited without plaintext', async () => {
    const { token, clientId } = await appToken(['transit:encrypt:orders-db']);
    const r = await app('/encrypt/orders-db', { plaintext: b64('secret-from-app-5521') }, token);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const back = await admin('/v1/transit/decrypt/orders-db', { ciphertext: r.body.ciphertext });
    assert.equal(Buffer.from(back.body.plaintext, 'base64').toString(), 'secret-from-app-5521');
    await node.services.audit.flush();
    const rows = await node.services.store.tailAudit(50);
    const mine = rows.filter((e) => e.type === 'transit.encrypt' && e.clientId === clientId);
    assert.equal(mine.length, 1);
    assert.deepEqual(mine[0]!.data, { key: 'orders-db', items: 1, failed: 0 });
    assert.ok(!JSON.stringify(rows).includes('secret-from-app-5521') && !JSON.stringify(rows).includes(b64('secret-from-app-5521')));
  });

  test('attack: the same token may not decrypt (scope is per operation): 403 token.insufficient-scope with the scope needed', async () => {
    const { token } = await appToken(['transit:encrypt:orders-db']);
    const ct = (await admin('/v1/transit/encrypt/orders-db', { plaintext: b64('x') })).body.ciphertext;
    const r = await app('/decrypt/orders-db', { ciphertext: ct }, token);
    assert.equal(r.status, 403);
    assert.equal(r.body.code, 'token.insufficient-scope');
    assert.match(r.headers.get('www-authenticate')!, /error="insufficient_scope".*scope="transit:decrypt:orders-db"/);
    assert.equal(r.headers.get('cache-control'), 'no-store', 'denials are not cached either');
  });

  test('attack: a scope for one key does not open another key: token.insufficient-scope', async () => {
    const { token } = await appToken(['transit:encrypt:orders-db']);
    const r = await app('/encrypt/other-db', { plaintext: b64('x') }, token);
    assert.equal(r.status, 403);
    assert.equal(r.body.code, 'token.insufficient-scope');
  });

  test('attack: a token for another audience is refused with token.wrong-audience', async () => {
    const { token } = await appToken(['transit:encrypt:orders-db'], ['orders-api']);
    const r = await app('/encrypt/orders-db', { plaintext: b64('x') }, token);
    assert.equal(r.status, 401);
    assert.equal(r.body.code, 'token.wrong-audience');
    assert.match(r.headers.get('www-authenticate')!, /error="invalid_token"/);
  });

  test('attack: no token is token.missing with a bare Bearer challenge; the admin token is not an app token (token.malformed)', async () => {
    const none = await app('/encrypt/orders-db', { plaintext: b64('x') }, null);
    assert.equal(none.status, 401);
    assert.equal(none.body.code, 'token.missing');
    assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="portcullis"');
    const adminTok = await app('/encrypt/orders-db', { plaintext: b64('x') }, node.adminToken);
    assert.equal(adminTok.status, 401);
    assert.equal(adminTok.body.code, 'token.malformed');
  });

  test('attack: without a token, the body is not read: a large unparsable body or a wrong media type is 401 token.missing (audited), not 400 or 415', async () => {
    for (const [type, body] of [['application/json', '{' + 'x'.repeat(3 * 1024 * 1024)], ['text/plain', 'aGk=']]) {
      const res = await fetch(`${node.urls.identity}/transit/v1/encrypt/orders-db`, { method: 'POST', headers: { 'content-type': type! }, body });
      const text = await res.text();
      assert.equal(res.status, 401, `${type}: ${text.slice(0, 200)}`);
      assert.equal(JSON.parse(text).code, 'token.missing');
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="portcullis"');
    }
    await node.services.audit.flush();
    const denied = (await node.services.store.tailAudit(20)).filter((e) => e.type === 'transit.denied' && e.reason === 'token.missing' && e.actor === 'anonymous');
    assert.ok(denied.length >= 2);
  });

  test('attack: a revoked app (tokens revoked) can no longer call transit: token.revoked', async () => {
    const { token, clientId } = await appToken(['transit:encrypt:orders-db']);
    assert.equal((await app('/encrypt/orders-db', { plaintext: b64('x') }, token)).status, 200);
    await node.services.apps.revokeTokens(clientId, 'test');
    const r = await app('/encrypt/orders-db', { plaintext: b64('x') }, token);
    assert.equal(r.status, 401);
    assert.equal(r.body.code, 'token.revoked');
  });

  test('a call whose body the app got wrong is audited too (transit.<op> with reason request.invalid), as every call is', async () => {
    const { token, clientId } = await appToken(['transit:encrypt:orders-db']);
    const r = await app('/encrypt/orders-db', { plaintext: 42 }, token);
    assert.equal(r.status, 400);
    assert.equal(r.body.code, 'request.invalid');
    await node.services.audit.flush();
    const mine = (await node.services.store.tailAudit(20)).filter((e) => e.type === 'transit.encrypt' && e.clientId === clientId);
    assert.equal(mine.length, 1);
    assert.equal(mine[0]!.reason, 'request.invalid');
    assert.deepEqual(mine[0]!.data, { key: 'orders-db' });
  });

  test('attack: a duplicated key in a transit body (which plaintext is encrypted?) → 400 request.invalid naming it; a charset other than UTF-8 → 415, never read as UTF-8', async () => {
    const { token } = await appToken(['transit:encrypt:orders-db']);
    const post = (body: string, type = 'application/json') => fetch(`${node.urls.identity}/transit/v1/encrypt/orders-db`, { method: 'POST', headers: { 'content-type': type, authorization: `Bearer ${token}` }, body });
    const dup = await post(`{"plaintext":"${b64('a')}","plaintext":"${b64('b')}"}`);
    assert.equal(dup.status, 400);
    assert.deepEqual(((await dup.json()) as { errors: unknown }).errors, [{ path: 'plaintext', message: 'duplicate key' }]);
    const nested = await post(`{"batch_input":[{"plaintext":"${b64('a')}"},{"plaintext":"${b64('a')}","pl\\u0061intext":"${b64('b')}"}]}`);
    assert.equal(nested.status, 400);
    const n = (await nested.json()) as { code: string; detail: string };
    assert.equal(n.code, 'request.invalid');
    assert.equal(n.detail, 'batch_input[1].plaintext: duplicate key');
    const utf16 = await post(`{"plaintext":"${b64('a')}"}`, 'application/json; charset=UTF-16');
    assert.equal(utf16.status, 415);
    const u = (await utf16.json()) as { code: string; detail: string };
    assert.equal(u.code, 'request.unsupported-media-type');
    assert.equal(u.detail, 'charset utf-16 is not supported: send JSON in UTF-8');
    assert.equal((await post(`{"plaintext":"${b64('a')}"}`, 'application/json; charset=utf-8')).status, 200);
  });

  test('attack: a deeply nested JSON body (stack exhaustion in input checks) is 400 request.invalid, audited, never a 500', async () => {
    const { token, clientId } = await appToken(['transit:encrypt:orders-db']);
    const deep = `{"plaintext":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const res = await fetch(`${node.urls.identity}/transit/v1/encrypt/orders-db`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: deep });
    const body = (await res.json()) as { code: string };
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(body.code, 'request.invalid');
    await node.services.audit.flush();
    const mine = (await node.services.store.tailAudit(20)).filter((e) => e.type === 'transit.encrypt' && e.clientId === clientId);
    assert.equal(mine[0]?.reason, 'request.invalid');
    const viaAdmin = await fetch(`${node.urls.admin}/v1/transit/encrypt/orders-db`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${node.adminToken}` }, body: deep });
    assert.equal(viaAdmin.status, 400);
    assert.equal(((await viaAdmin.json()) as { code: string }).code, 'request.invalid');
  });

  test('a body the JSON parser refuses, from an authorized app, is audited once as transit.<op> with the reason (malformed, duplicate key, charset, media type, over the limit), never with the body', async () => {
    const marker = 'c2VjcmV0LW1hcmtlci03NzQx';
    const cases: Array<[op: string, type: string, body: string, status: number, code: string]> = [
      ['encrypt', 'application/json', `{"plaintext":"${marker}"`, 400, 'request.malformed'],
      ['decrypt', 'application/json', `{"ciphertext":"${marker}","ciphertext":"pc:v1:AAAA"}`, 400, 'request.invalid'],
      ['encrypt', 'application/json; charset=utf-16', `{"plaintext":"${marker}"}`, 415, 'request.unsupported-media-type'],
      ['encrypt', 'text/plain', marker, 415, 'request.unsupported-media-type'],
      ['encrypt', 'application/json', `{"plaintext":"${marker}${'A'.repeat(4 * 1024 * 1024)}"}`, 413, 'request.body-too-large'],
    ];
    for (const [op, type, body, status, code] of cases) {
      const { token, clientId } = await appToken([`transit:${op}:orders-db`]);
      const res = await fetch(`${node.urls.identity}/transit/v1/${op}/orders-db`, { method: 'POST', headers: { 'content-type': type, authorization: `Bearer ${token}` }, body });
      const text = await res.text();
      assert.equal(res.status, status, `${type} ${body.slice(0, 60)}: ${text.slice(0, 200)}`);
      assert.equal(JSON.parse(text).code, code);
      await node.services.audit.flush();
      const rows = await node.services.store.tailAudit(50);
      const mine = rows.filter((e) => e.clientId === clientId && e.type.startsWith('transit.'));
      assert.deepEqual(
        mine.map((e) => ({ type: e.type, actor: e.actor, clientId: e.clientId, reason: e.reason, data: e.data })),
        [{ type: `transit.${op}`, actor: `client:${clientId}`, clientId, reason: code, data: { key: 'orders-db' } }],
        `${type} ${body.slice(0, 60)}`,
      );
      assert.ok(!JSON.stringify(rows).includes(marker) && !JSON.stringify(rows).includes(token), 'neither the body nor the token is in the audit log');
    }
  });

  test('attack: an unauthenticated client sending malformed bodies gets 401 token.missing and one transit.denied per request, the body unread: no parse-failure event it could flood the log with', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${node.urls.identity}/transit/v1/encrypt/probe-key`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"plaintext":"x","plaintext":' });
      assert.equal(res.status, 401);
      assert.equal(((await res.json()) as { code: string }).code, 'token.missing');
    }
    await node.services.audit.flush();
    const about = (await node.services.store.tailAudit(50)).filter((e) => (e.data as { key?: string } | undefined)?.key === 'probe-key');
    assert.deepEqual(
      about.map((e) => ({ type: e.type, actor: e.actor, clientId: e.clientId, reason: e.reason, data: e.data })),
      Array.from({ length: 3 }, () => ({ type: 'transit.denied', actor: 'anonymous', clientId: null, reason: 'token.missing', data: { op: 'encrypt', key: 'probe-key' } })),
    );
  });

  test('denials are audited as transit.denied with the reason code', async () => {
    const { token, clientId } = await appToken(['transit:hmac:orders-db']);
    await app('/sign/orders-db', { input: b64('x') }, token);
    await node.services.audit.flush();
    const denied = (await node.services.store.tailAudit(20)).filter((e) => e.type === 'transit.denied' && e.clientId === clientId);
    assert.equal(denied.length, 1);
    assert.equal(denied[0]!.reason, 'token.insufficient-scope');
    assert.deepEqual(denied[0]!.data, { op: 'sign', key: 'orders-db' });
  });
});
