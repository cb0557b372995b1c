/** Named attacks on RFC 9421 verification; each asserts the exact PortcullisError code. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError, type ErrorCode } from '../../src/core/errors.js';
import { nodeHasherFactory } from '../../src/http/content-digest-node.js';
import { importParams } from '../../src/signatures/algorithms.js';
import { contentDigest, contentDigestChecker } from '../../src/signatures/content-digest.js';
import { signMessage, type SignOptions } from '../../src/signatures/sign.js';
import type { HttpRequestLike } from '../../src/signatures/types.js';
import { SignatureVerifier, type VerifyPolicy } from '../../src/signatures/verify.js';

const NOW = 1_700_000_000;
const clock = new FrozenClock(NOW * 1000);
const hmacKey = await crypto.subtle.importKey('raw', crypto.getRandomValues(new Uint8Array(32)), importParams('hmac-sha256'), false, ['sign', 'verify']);
const ed = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
const KEYS = { 'app-hmac': { key: hmacKey, alg: 'hmac-sha256' as const }, 'app-ed': { key: ed.publicKey, alg: 'ed25519' as const } };
const REQUIRED = ['@method', '@target-uri', 'content-digest', 'content-type'];
const body = new TextEncoder().encode('{"amount": 100}');

function policy(extra: Partial<VerifyPolicy> = {}): VerifyPolicy {
  return { clock, keyLookup: (kid) => KEYS[kid as keyof typeof KEYS], requiredComponents: REQUIRED, maxAge: 300, clockSkew: 5, ...extra };
}

async function signed(opts: Partial<SignOptions> = {}): Promise<HttpRequestLike & { headers: Headers }> {
  const headers = new Headers({ 'content-type': 'application/json', 'content-digest': await contentDigest(body) });
  const req = { method: 'POST', url: 'https://api.example.com/pay?to=alice', headers };
  const s = await signMessage(req, { key: hmacKey, alg: 'hmac-sha256', keyid: 'app-hmac', components: REQUIRED, clock, nonce: 'n-1', ...opts });
  headers.append('signature-input', s.signatureInput);
  headers.append('signature', s.signature);
  return req;
}

async function rejects(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof PortcullisError, `expected PortcullisError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

const verify = (req: HttpRequestLike, extra?: Partial<VerifyPolicy>) => new SignatureVerifier(policy(extra)).verify(req);

describe('signature attacks', () => {
  it('baseline: the untouched request verifies', async () => {
    const v = await verify(await signed());
    assert.equal(v.keyid, 'app-hmac');
    assert.equal(v.params.nonce, 'n-1');
  });

  it('tampered body: the body no longer matches the signed Content-Digest → digest.mismatch', async () => {
    const req = await signed();
    await verify(req);
    const check = contentDigestChecker(req.headers.get('content-digest'), nodeHasherFactory);
    check.update(new TextEncoder().encode('{"amount": 900}'));
    await rejects(check.finish(), 'digest.mismatch');
  });

  it('tampered body with a recomputed Content-Digest → signature.invalid', async () => {
    const req = await signed();
    req.headers.set('content-digest', await contentDigest(new TextEncoder().encode('{"amount": 900}')));
    await rejects(verify(req), 'signature.invalid');
  });

  it('tampered header (content-type) → signature.invalid', async () => {
    const req = await signed();
    req.headers.set('content-type', 'text/plain');
    await rejects(verify(req), 'signature.invalid');
  });

  it('tampered path → signature.invalid', async () => {
    const req = await signed();
    req.url = 'https://api.example.com/admin?to=alice';
    await rejects(verify(req), 'signature.invalid');
  });

  it('tampered query → signature.invalid', async () => {
    const req = await signed();
    req.url = 'https://api.example.com/pay?to=mallory';
    await rejects(verify(req), 'signature.invalid');
  });

  it('tampered method → signature.invalid', async () => {
    const req = await signed();
    req.method = 'DELETE';
    await rejects(verify(req), 'signature.invalid');
  });

  it('covered component removed from the message → signature.component-missing', async () => {
    const req = await signed();
    req.headers.delete('content-type');
    await rejects(verify(req), 'signature.component-missing');
  });

  it('created in the future beyond the skew → signature.not-yet-valid', async () => {
    await rejects(verify(await signed({ created: NOW + 60 })), 'signature.not-yet-valid');
  });

  it('created too old for maxAge → signature.expired', async () => {
    await rejects(verify(await signed({ created: NOW - 600 })), 'signature.expired');
  });

  it('expires passed → signature.expired', async () => {
    await rejects(verify(await signed({ created: NOW - 100, expires: NOW - 50 })), 'signature.expired');
  });

  it('alg parameter not matching the key (HMAC claimed for an Ed25519 key id) → signature.alg-mismatch', async () => {
    await rejects(verify(await signed({ keyid: 'app-ed', includeAlg: true })), 'signature.alg-mismatch');
  });

  it('alg parameter disagreeing with its own key (ed25519 declared, hmac key) → signature.alg-mismatch', async () => {
    const req = await signed({ includeAlg: true });
    req.headers.set('signature-input', req.headers.get('signature-input')!.replace('alg="hmac-sha256"', 'alg="ed25519"'));
    await rejects(verify(req), 'signature.alg-mismatch');
  });

  it('algorithm not allowed by the route → signature.alg-mismatch', async () => {
    await rejects(verify(await signed(), { algorithms: ['ed25519'] }), 'signature.alg-mismatch');
  });

  it('key confusion: an HMAC signature presented under an Ed25519 key id without alg → signature.invalid', async () => {
    await rejects(verify(await signed({ keyid: 'app-ed' })), 'signature.invalid');
  });

  it('signature present but not covering the required set → signature.component-missing', async () => {
    await rejects(verify(await signed({ components: ['@method', '@target-uri', 'content-type'] })), 'signature.component-missing');
  });

  it('duplicate labels in Signature-Input → signature.malformed', async () => {
    const req = await signed();
    req.headers.append('signature-input', 'sig1=("@method");created=1700000000;keyid="app-hmac"');
    await rejects(verify(req), 'signature.malformed');
  });

  it('duplicate labels in Signature → signature.malformed', async () => {
    const req = await signed();
    req.headers.append('signature', 'sig1=:AAAA:');
    await rejects(verify(req), 'signature.malformed');
  });

  it('malformed Signature-Input → signature.malformed', async () => {
    const req = await signed();
    req.headers.set('signature-input', 'sig1=("@method" "@target-uri";created=1700000000');
    await rejects(verify(req), 'signature.malformed');
  });

  it('Signature-Input member that is not an inner list → signature.malformed', async () => {
    const req = await signed();
    req.headers.set('signature-input', 'sig1="@method";created=1700000000');
    await rejects(verify(req), 'signature.malformed');
  });

  it('created that is not an integer → signature.malformed', async () => {
    const req = await signed();
    req.headers.set('signature-input', req.headers.get('signature-input')!.replace(/created=\d+/, 'created="now"'));
    await rejects(verify(req), 'signature.malformed');
  });

  it('label in Signature-Input but not in Signature → signature.malformed', async () => {
    const req = await signed();
    req.headers.set('signature', req.headers.get('signature')!.replace('sig1=', 'sig2='));
    await rejects(verify(req), 'signature.malformed');
  });

  it('unknown component parameter → signature.malformed', async () => {
    const req = await signed({ components: [...REQUIRED, '@path'] });
    req.headers.set('signature-input', req.headers.get('signature-input')!.replace('"@path"', '"@path";x'));
    await rejects(verify(req), 'signature.malformed');
  });

  it('the same component covered twice → signature.malformed', async () => {
    const req = await signed();
    req.headers.set('signature-input', req.headers.get('signature-input')!.replace('("@method"', '("@method" "@method"'));
    await rejects(verify(req), 'signature.malformed');
  });

  it('a repeated signature parameter (keyid="evil" before the signed keyid="app-hmac"; RFC 8941 keeps the last) → signature.malformed, not a verified request whose Signature-Input reads keyid="evil" to a first-wins parser', async () => {
    const req = await signed();
    const input = req.headers.get('signature-input')!;
    for (const edit of [input.replace('keyid="app-hmac"', 'keyid="evil";keyid="app-hmac"'), input.replace('nonce="n-1"', 'nonce="n-0";nonce="n-1"'), input.replace(/created=(\d+)/, 'created=1;created=$1')]) {
      req.headers.set('signature-input', edit);
      await rejects(verify(req), 'signature.malformed');
    }
  });

  it('a repeated component parameter ("@query-param";name="amount";name="to" where "to" was signed) → signature.malformed', async () => {
    const req = await signed({ components: [...REQUIRED, '@query-param;name="to"'] });
    await verify(req);
    req.headers.set('signature-input', req.headers.get('signature-input')!.replace('name="to"', 'name="amount";name="to"'));
    await rejects(verify(req), 'signature.malformed');
  });

  it('a repeated parameter on a Signature member → signature.malformed', async () => {
    const req = await signed();
    req.headers.set('signature', `${req.headers.get('signature')!};x;x`);
    await rejects(verify(req), 'signature.malformed');
  });

  it('unsigned request → signature.missing', async () => {
    await rejects(verify({ method: 'GET', url: 'https://api.example.com/', headers: new Headers() }), 'signature.missing');
  });

  it('signature with another tag than the route expects → signature.missing', async () => {
    await rejects(verify(await signed({ tag: 'webhook' }), { tag: 'api' }), 'signature.missing');
  });

  it('unknown keyid → signature.unknown-key', async () => {
    await rejects(verify(await signed({ keyid: 'someone-else' })), 'signature.unknown-key');
  });

  it('nonce required but absent → signature.parameter-missing', async () => {
    const req = await signed();
    const s = await signMessage(req, { label: 'sig2', key: hmacKey, alg: 'hmac-sha256', keyid: 'app-hmac', components: REQUIRED, clock });
    req.headers.set('signature-input', s.signatureInput);
    req.headers.set('signature', s.signature);
    await rejects(verify(req, { requireNonce: true }), 'signature.parameter-missing');
  });

  it('signature bytes replayed under edited parameters (nonce swapped) → signature.invalid', async () => {
    const req = await signed();
    req.headers.set('signature-input', req.headers.get('signature-input')!.replace('nonce="n-1"', 'nonce="n-2"'));
    await rejects(verify(req), 'signature.invalid');
  });

  it('query parameter pollution: a covered @query-param repeated → signature.component-missing', async () => {
    const req = await signed({ components: [...REQUIRED, '@query-param;name="to"'] });
    await verify(req);
    req.url = 'https://api.example.com/pay?to=alice&to=mallory';
    await rejects(verify(req), 'signature.component-missing');
  });

  it('query parameter malleability: a covered @query-param whose bytes are not UTF-8 (?to=%FF, a MITM sends %FE: both decode to U+FFFD) → signature.malformed', async () => {
    const components = ['@method', '@path', '@query-param;name="to"'];
    // the signer cannot produce the value unambiguously either
    await rejects(
      signMessage({ method: 'GET', url: 'https://api.example.com/pay?to=%FF', headers: new Headers() }, { key: hmacKey, alg: 'hmac-sha256', keyid: 'app-hmac', components, clock }),
      'signature.malformed',
    );
    // a signature made over the lossy value (as an RFC-literal signer would) never verifies for another byte
    const headers = new Headers();
    const lossy = { method: 'GET', url: 'https://api.example.com/pay?to=%EF%BF%BD', headers };
    const s = await signMessage(lossy, { key: hmacKey, alg: 'hmac-sha256', keyid: 'app-hmac', components, clock });
    headers.append('signature-input', s.signatureInput);
    headers.append('signature', s.signature);
    await verify(lossy, { requiredComponents: components });
    for (const bytes of ['%FE', '%C3', '%ED%A0%80']) {
      await rejects(verify({ ...lossy, url: `https://api.example.com/pay?to=${bytes}` }, { requiredComponents: components }), 'signature.malformed');
    }
    // a parameter that is not covered may carry any bytes
    await verify({ ...lossy, url: 'https://api.example.com/pay?junk=%FF&%FE=1&to=%EF%BF%BD' }, { requiredComponents: components });
    // names too: "%FF" is not the covered name "%EF%BF%BD", though it decodes to it
    const byName = ['@method', '@path', '@query-param;name="%EF%BF%BD"'];
    const h2 = new Headers();
    const named = { method: 'GET', url: 'https://api.example.com/pay?%EF%BF%BD=1', headers: h2 };
    const s2 = await signMessage(named, { key: hmacKey, alg: 'hmac-sha256', keyid: 'app-hmac', components: byName, clock });
    h2.append('signature-input', s2.signatureInput);
    h2.append('signature', s2.signature);
    await verify(named, { requiredComponents: byName });
    await rejects(verify({ ...named, url: 'https://api.example.com/pay?%FF=1' }, { requiredComponents: byName }), 'signature.malformed');
  });

  it('line break smuggled into a covered field value → signature.malformed', async () => {
    const headers: Record<string, string> = { 'content-type': 'application/json\n"@method": GET', 'content-digest': await contentDigest(body) };
    await rejects(
      signMessage({ method: 'POST', url: 'https://api.example.com/pay', headers }, { key: hmacKey, alg: 'hmac-sha256', components: REQUIRED, clock }),
      'signature.malformed',
    );
  });

  it('several signatures: a forged extra one does not hide the valid one, and an invalid one alone is rejected', async () => {
    const req = await signed();
    req.headers.append('signature-input', 'evil=("@method");created=1700000000;keyid="app-hmac"');
    req.headers.append('signature', 'evil=:AAAA:');
    assert.equal((await verify(req, { requiredComponents: [] })).label, 'sig1');
    await rejects(verify(req, { label: 'evil', requiredComponents: [] }), 'signature.invalid');
  });
});
