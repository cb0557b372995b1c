/**
 * `;bs` over a web `Headers` object (RFC 9421 §2.1.3: "each field line" wrapped as its
 * own byte sequence). `Headers.get` joins repeated field lines with ", ", so the SDK
 * made one byte sequence where the gateway, reading node's raw lines, makes one per
 * line: the two sides computed different signature bases for the same message. Now
 * `Set-Cookie` is read line by line (`getSetCookie`), and any other field whose joined
 * value contains ", " (where a line may end) is refused, `signature.field-lines-unknown`,
 * never signed or verified as one line.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PortcullisError } from '../../src/core/errors.js';
import { RawFieldLines } from '../../src/gateway/signature-policy.js';
import { importParams } from '../../src/signatures/algorithms.js';
import { componentValue } from '../../src/signatures/components.js';
import { signMessage } from '../../src/signatures/sign.js';
import { parseComponentId } from '../../src/signatures/signature-input.js';
import type { HttpResponseLike } from '../../src/signatures/types.js';

const value = (id: string, m: HttpResponseLike): string => componentValue(parseComponentId(id), m);
const code = (c: string) => (e: unknown) => {
  assert.ok(e instanceof PortcullisError, String(e));
  assert.equal(e.code, c, e.message);
  return true;
};

/** The same field lines as the gateway sees them (node's rawHeaders) and as a web Headers object holds them. */
function both(raw: string[]): { gateway: HttpResponseLike; web: HttpResponseLike } {
  const h = new Headers();
  for (let i = 0; i < raw.length; i += 2) h.append(raw[i]!, raw[i + 1]!);
  return { gateway: { status: 200, headers: new RawFieldLines(raw) }, web: { status: 200, headers: h } };
}

describe(';bs over a web Headers object agrees with the gateway, or is refused', () => {
  it('Set-Cookie: one byte sequence per cookie (getSetCookie), as the gateway computes from the raw lines', () => {
    const { gateway, web } = both(['Set-Cookie', 'a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT', 'Set-Cookie', 'b=2']);
    const expected = value('"set-cookie";bs', gateway);
    assert.equal(expected.split(', :').length, 2);
    assert.equal(value('"set-cookie";bs', web), expected);
  });

  it('one line without ", " is the same value on both sides', () => {
    const { gateway, web } = both(['X-Token', 'abc,def']);
    assert.equal(value('"x-token";bs', web), value('"x-token";bs', gateway));
  });

  it('attack: two field lines joined by Headers.get would be signed as one byte sequence → signature.field-lines-unknown', () => {
    const { gateway, web } = both(['X-List', 'a', 'X-List', 'b']);
    assert.equal(value('"x-list";bs', gateway), ':YQ==:, :Yg==:');
    assert.throws(() => value('"x-list";bs', web), code('signature.field-lines-unknown'));
  });

  it('one line with ", " cannot be told from two lines: refused too, and signMessage signs nothing', async () => {
    const { web } = both(['X-Date', 'Wed, 21 Oct 2015']);
    assert.throws(() => value('"x-date";bs', web), code('signature.field-lines-unknown'));
    const key = await crypto.subtle.importKey('raw', new Uint8Array(32), importParams('hmac-sha256'), false, ['sign']);
    await assert.rejects(signMessage({ method: 'GET', url: 'https://api.example/x', headers: (web.headers as Headers) }, { key, alg: 'hmac-sha256', keyid: 'k', components: ['"x-date";bs'] }), code('signature.field-lines-unknown'));
  });

  it('without bs, Headers.get is the RFC 9421 §2.1 value (lines joined with ", ") and is unchanged', () => {
    const { gateway, web } = both(['X-List', 'a', 'X-List', 'b']);
    assert.equal(value('x-list', web), value('x-list', gateway));
  });

  it('headers given line by line (a record of arrays) keep working with bs', () => {
    assert.equal(value('"x-list";bs', { status: 200, headers: { 'x-list': ['a, b', 'c'] } }), ':YSwgYg==:, :Yw==:');
  });
});
