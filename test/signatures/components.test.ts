/** RFC 9421 §2 component values (the section's own examples), request–response binding, trailers and Accept-Signature. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError } from '../../src/core/errors.js';
import { importParams } from '../../src/signatures/algorithms.js';
import { componentValue, registerStructuredField } from '../../src/signatures/components.js';
import { signMessage } from '../../src/signatures/sign.js';
import { parseAcceptSignature, parseComponentId, serializeAcceptSignature } from '../../src/signatures/signature-input.js';
import type { HttpMessageLike, HttpRequestLike } from '../../src/signatures/types.js';
import { SignatureVerifier } from '../../src/signatures/verify.js';

// RFC 9421 §2.1.1 and its appendix use Example-Dict as a Dictionary field
registerStructuredField('example-dict', 'dictionary');

const value = (id: string, m: HttpMessageLike, req?: HttpRequestLike): string => componentValue(parseComponentId(id), m, req);
const code = (c: string) => (e: unknown) => e instanceof PortcullisError && e.code === c;

describe('derived components (RFC 9421 §2.2)', () => {
  const req: HttpRequestLike = { method: 'POST', url: 'https://www.example.com/path?param=value', headers: new Headers() };
  it('@method, @target-uri, @authority, @scheme, @request-target, @path, @query', () => {
    assert.equal(value('@method', req), 'POST');
    assert.equal(value('@target-uri', req), 'https://www.example.com/path?param=value');
    assert.equal(value('@authority', req), 'www.example.com');
    assert.equal(value('@scheme', req), 'https');
    assert.equal(value('@request-target', req), '/path?param=value');
    assert.equal(value('@path', req), '/path');
    assert.equal(value('@query', req), '?param=value');
  });
  it('@authority is lowercased and drops the default port, keeps others', () => {
    assert.equal(value('@authority', { ...req, url: 'HTTPS://WWW.Example.COM:443/x' }), 'www.example.com');
    assert.equal(value('@authority', { ...req, url: 'http://example.com:8080/x' }), 'example.com:8080');
  });
  it('absent query is "?", empty path is "/", OPTIONS * request-target', () => {
    assert.equal(value('@query', { ...req, url: 'https://example.com/p' }), '?');
    assert.equal(value('@path', { ...req, url: 'https://example.com' }), '/');
    assert.equal(value('@request-target', { ...req, method: 'OPTIONS', requestTarget: '*' }), '*');
  });
  it('@query-param: §2.2.8 examples (decoded, then re-encoded with %20 for spaces)', () => {
    const q: HttpRequestLike = { ...req, url: 'https://example.com/parameters?var=this%20is%20a%20big%0Avalue&bar=with+plus+whitespace&fa%C3%A7ade%22%3A%20=something' };
    assert.equal(value('@query-param;name="var"', q), 'this%20is%20a%20big%0Avalue');
    assert.equal(value('@query-param;name="bar"', q), 'with%20plus%20whitespace');
    assert.equal(value('@query-param;name="fa%C3%A7ade%22%3A%20"', q), 'something');
    const q2: HttpRequestLike = { ...req, url: 'https://example.com/path?param=value&foo=bar&baz=batman&qux=' };
    assert.equal(value('@query-param;name="baz"', q2), 'batman');
    assert.equal(value('@query-param;name="qux"', q2), '');
    assert.throws(() => value('@query-param;name="nope"', q2), code('signature.component-missing'));
  });
  it('@query-param: a covered name a `;` would split otherwise (Rack 2, Go < 1.17, Python < 3.9.2) is refused', () => {
    const at = (query: string): HttpRequestLike => ({ ...req, url: `https://example.com/p?${query}` });
    for (const query of ['amount=1&note=x;amount=9', 'note=x;amount=9&amount=1', 'amount=1&note=x;%61mount=9', 'amount=1;x=2', 'amount;x=2']) {
      assert.throws(() => value('@query-param;name="amount"', at(query)), code('signature.component-missing'), query);
    }
    assert.equal(value('@query-param;name="amount"', at('amount=1&note=x;y=2')), '1');
    assert.equal(value('@query-param;name="amount"', at('amount=1%3Bx&note=y')), '1%3Bx');
  });
  it('@status only on responses; request components not on responses', () => {
    assert.equal(value('@status', { status: 200, headers: new Headers() }), '200');
    assert.throws(() => value('@status', req), code('signature.malformed'));
    assert.throws(() => value('@method', { status: 200, headers: new Headers() }), code('signature.malformed'));
    assert.throws(() => value('@signature-params', req), code('signature.malformed'));
    assert.throws(() => value('@unknown', req), code('signature.malformed'));
  });
});

describe('HTTP fields (RFC 9421 §2.1)', () => {
  const m: HttpRequestLike = {
    method: 'GET',
    url: 'https://example.com/',
    headers: {
      'x-ows-header': '   Leading and trailing whitespace.   ',
      'x-obs-fold-header': 'Obsolete\r\n    line folding.',
      'cache-control': ['max-age=60', '   must-revalidate'],
      'x-empty-header': '',
      'example-dict': ' a=1,    b=2;x=1;y=2,   c=(a   b   c)',
      'example-header': ['value, with, lots', 'of, commas'],
    },
  };
  it('whitespace trimmed, obs-fold replaced, lines joined with ", ", empty value kept', () => {
    assert.equal(value('x-ows-header', m), 'Leading and trailing whitespace.');
    assert.equal(value('x-obs-fold-header', m), 'Obsolete line folding.');
    assert.equal(value('cache-control', m), 'max-age=60, must-revalidate');
    assert.equal(value('x-empty-header', m), '');
  });
  it('sf re-serializes strictly; key picks a dictionary member (§2.1.1, §2.1.2)', () => {
    assert.equal(value('example-dict', m), 'a=1,    b=2;x=1;y=2,   c=(a   b   c)');
    assert.equal(value('"example-dict";sf', m), 'a=1, b=2;x=1;y=2, c=(a b c)');
    assert.equal(value('"example-dict";key="a"', m), '1');
    assert.equal(value('"example-dict";key="b"', m), '2;x=1;y=2');
    assert.equal(value('"example-dict";key="c"', m), '(a b c)');
    assert.throws(() => value('"example-dict";key="zz"', m), code('signature.component-missing'));
  });
  it('bs wraps each field line as a byte sequence (§2.1.3)', () => {
    assert.equal(value('"example-header";bs', m), ':dmFsdWUsIHdpdGgsIGxvdHM=:, :b2YsIGNvbW1hcw==:');
    assert.throws(() => value('"example-header";bs;sf', m), code('signature.malformed'));
  });
  it('an absent field is an error, not an empty value', () => {
    assert.throws(() => value('x-absent', m), code('signature.component-missing'));
  });
});

describe('request-response binding (req) and trailers (tr)', () => {
  const clock = new FrozenClock(1_700_000_000_000);
  it('a response signature covering request components verifies only against that request', async () => {
    const key = await crypto.subtle.importKey('raw', new Uint8Array(32).fill(1), importParams('hmac-sha256'), false, ['sign', 'verify']);
    const request: HttpRequestLike = { method: 'POST', url: 'https://example.com/foo', headers: new Headers({ 'content-digest': 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:' }) };
    const headers = new Headers({ 'content-type': 'application/json' });
    const response = { status: 503, headers, trailers: new Headers({ 'server-timing': 'db;dur=53' }) };
    const s = await signMessage(response, { key, alg: 'hmac-sha256', keyid: 'k', clock, request, components: ['@status', 'content-type', '"@authority";req', '"@method";req', '"content-digest";req', '"server-timing";tr'] });
    assert.match(s.base, /^"@status": 503\n"content-type": application\/json\n"@authority";req: example.com\n"@method";req: POST\n"content-digest";req: sha-256=:X48E9q.*\n"server-timing";tr: db;dur=53\n"@signature-params": /);
    headers.append('signature-input', s.signatureInput);
    headers.append('signature', s.signature);
    const verifier = new SignatureVerifier({ clock, keyLookup: () => ({ key, alg: 'hmac-sha256' }), requiredComponents: ['"@method";req'] });
    assert.equal((await verifier.verify(response, request)).label, 'sig1');
    await assert.rejects(verifier.verify(response, { ...request, url: 'https://other.example/foo' }), code('signature.invalid'));
    await assert.rejects(verifier.verify(response), code('signature.component-missing'));
    await assert.rejects(verifier.verify({ ...response, trailers: new Headers() }, request), code('signature.component-missing'));
  });
  it('req on a request signature is malformed', () => {
    assert.throws(() => value('"@method";req', { method: 'GET', url: 'https://e/', headers: new Headers() }), code('signature.malformed'));
  });
});

describe('Accept-Signature (RFC 9421 §5.1)', () => {
  it('parses the RFC example and serializes it back', () => {
    const v = 'sig1=("@method" "@target-uri" "@authority" "content-digest" "cache-control");created;keyid="test-key-rsa-pss";tag="app-123"';
    const r = parseAcceptSignature(v).get('sig1')!;
    assert.deepEqual(r.components.map((c) => c.name), ['@method', '@target-uri', '@authority', 'content-digest', 'cache-control']);
    assert.equal(r.keyid, 'test-key-rsa-pss');
    assert.equal(r.tag, 'app-123');
    assert.equal(r.created, true);
    assert.equal(r.expires, false);
    assert.equal(serializeAcceptSignature([r]), v);
  });
  it('created with a value and duplicate labels are malformed', () => {
    assert.throws(() => parseAcceptSignature('sig1=("@method");created=5'), code('signature.malformed'));
    assert.throws(() => parseAcceptSignature('sig1=("@method"), sig1=("@path")'), code('signature.malformed'));
  });
});

describe('target URI attacks (review #1, #10): refused with signature.target-invalid, never stripped', () => {
  const base: HttpRequestLike = { method: 'POST', url: 'https://gw.example/orders', headers: new Headers() };
  const ids = ['@target-uri', '@authority', '@path', '@query', '@request-target', '@scheme', '@query-param;name="a"'];
  const refused = (url: string) => {
    for (const id of ids) assert.throws(() => value(id, { ...base, url }), code('signature.target-invalid'), `${id} of ${url}`);
  };
  it('a fragment ("#" hiding the real path after a Host of gw/orders#) is refused', () => refused('http://gw.example/orders#/admin/users/42/delete?force=1&a=1'));
  it('userinfo in the authority ("evil.example@gw") is refused, not stripped', () => refused('http://evil.example@gw.example/orders?a=1'));
  it('characters outside host[:port] in the authority are refused', () => {
    for (const a of ['gw.example:80:90', 'gw example', 'gw.example\t', '', ':8080', 'gw.example:8o', 'gw\\x', 'gw%zz', '[::1', 'gw"x']) refused(`http://${a}/orders?a=1`);
  });
  it('valid authorities still derive: reg-name, IPv4, IPv6 literal, port, pct-encoded', () => {
    assert.equal(value('@authority', { ...base, url: 'http://[::1]:8080/x' }), '[::1]:8080');
    assert.equal(value('@authority', { ...base, url: 'http://127.0.0.1:80/x' }), '127.0.0.1');
    assert.equal(value('@target-uri', { ...base, url: 'http://a-b.example:8443/x?y' }), 'http://a-b.example:8443/x?y');
    assert.equal(value('@path', { ...base, url: 'http://caf%C3%A9.example/x' }), '/x');
  });
  it('signing a URI with a fragment fails too (the signer and the verifier derive the same way)', async () => {
    const key = await crypto.subtle.importKey('raw', new Uint8Array(32), importParams('hmac-sha256'), false, ['sign']);
    await assert.rejects(signMessage({ ...base, url: 'https://gw.example/orders#x' }, { key, alg: 'hmac-sha256', keyid: 'k', components: ['@target-uri'] }), code('signature.target-invalid'));
  });
});

describe('sf needs the field\'s known structured type (review #8, RFC 9421 §2.1.1): nothing is guessed', () => {
  const req = (headers: Record<string, string>): HttpRequestLike => ({ method: 'GET', url: 'https://example.com/', headers });
  it('sf or key on a field of unknown type is signature.field-type-unknown', () => {
    assert.throws(() => value('"x-roles";sf', req({ 'x-roles': 'a, b' })), code('signature.field-type-unknown'));
    assert.throws(() => value('"x-roles";key="a"', req({ 'x-roles': 'a=1' })), code('signature.field-type-unknown'));
  });
  it('a List field (Cache-Status) parses as a List: a member prepended with a repeated name changes the value', () => {
    assert.equal(value('"cache-status";sf', req({ 'cache-status': 'a,   b' })), 'a, b');
    assert.equal(value('"cache-status";sf', req({ 'cache-status': 'a;admin, a, b' })), 'a;admin, a, b');
    assert.throws(() => value('"cache-status";key="a"', req({ 'cache-status': 'a, b' })), code('signature.field-type-unknown'));
  });
  it('a value that does not parse as its known type is signature.malformed (Priority is a Dictionary, Client-Cert an Item)', () => {
    assert.equal(value('"priority";sf', req({ priority: 'u=1,  i' })), 'u=1, i');
    assert.throws(() => value('"client-cert";sf', req({ 'client-cert': 'a, b' })), code('signature.malformed'));
  });
  it('a Dictionary member or a parameter repeated in a field covered with sf or key is signature.malformed (RFC 8941 keeps the last, a first-wins upstream reads the first)', () => {
    assert.throws(() => value('"priority";sf', req({ priority: 'u=1, u=5' })), code('signature.malformed'));
    assert.throws(() => value('"priority";sf', req({ priority: 'u=1, i, u=5' })), code('signature.malformed'));
    assert.throws(() => value('"priority";key="u"', req({ priority: 'u=1, u=5' })), code('signature.malformed'));
    assert.throws(() => value('"example-dict";key="a"', req({ 'example-dict': 'a=1;p=0;p=1' })), code('signature.malformed'));
    assert.throws(() => value('"example-dict";key="a"', req({ 'example-dict': 'a=(1;p=0;p=1 2)' })), code('signature.malformed'));
    assert.throws(() => value('"cache-status";sf', req({ 'cache-status': 'a;detail=1;detail=2, b' })), code('signature.malformed'));
    assert.throws(() => value('"client-cert";sf', req({ 'client-cert': ':AQID:;x;x' })), code('signature.malformed'));
    // not repeats: a ";" in a string, a List naming one member twice, one key per member
    assert.equal(value('"example-dict";sf', req({ 'example-dict': 'a="x;y";p=1, b;p=2' })), 'a="x;y";p=1, b;p=2');
    assert.equal(value('"cache-status";sf', req({ 'cache-status': 'a;x=1, a;x=2' })), 'a;x=1, a;x=2');
  });
  it('attack: a Dictionary signed as "u=5" sent as "u=1, u=5" is signature.malformed (it verified: the repeat collapsed to the signed value)', async () => {
    const key = await crypto.subtle.importKey('raw', new Uint8Array(32).fill(3), importParams('hmac-sha256'), false, ['sign', 'verify']);
    const clock = new FrozenClock(1_700_000_000_000);
    const v = new SignatureVerifier({ clock, keyLookup: () => ({ key, alg: 'hmac-sha256' }) });
    for (const id of ['"priority";sf', '"priority";key="u"']) {
      const signed = await signMessage(req({ priority: 'u=5' }), { key, alg: 'hmac-sha256', keyid: 'k', clock, components: [id] });
      const send = (p: string) => v.verify(req({ priority: p, 'signature-input': signed.signatureInput, signature: signed.signature }));
      assert.equal((await send('u=5')).label, 'sig1');
      await assert.rejects(send('u=1, u=5'), code('signature.malformed'));
    }
  });
  it('attack: a List signed as "a, b" sent as "a;admin, a, b" no longer verifies (it did when sf guessed Dictionary first)', async () => {
    const key = await crypto.subtle.importKey('raw', new Uint8Array(32).fill(3), importParams('hmac-sha256'), false, ['sign', 'verify']);
    const clock = new FrozenClock(1_700_000_000_000);
    const signed = await signMessage(req({ 'cache-status': 'a, b' }), { key, alg: 'hmac-sha256', keyid: 'k', clock, components: ['"cache-status";sf'] });
    const v = new SignatureVerifier({ clock, keyLookup: () => ({ key, alg: 'hmac-sha256' }) });
    const send = (cs: string) => v.verify(req({ 'cache-status': cs, 'signature-input': signed.signatureInput, signature: signed.signature }));
    assert.equal((await send('a,b')).label, 'sig1');
    await assert.rejects(send('a;admin, a, b'), code('signature.invalid'));
  });
});
