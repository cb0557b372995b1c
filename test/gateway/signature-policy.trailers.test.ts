/**
 * The gateway verifies a request signature before it reads the body, so it has no
 * trailer fields yet: a signature covering a trailer (`;tr`, RFC 9421 §2.1.4) is refused
 * with `signature.component-missing` (docs/signatures.md), never verified without it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { signMessage } from '../../src/signatures/sign.js';
import { codeOf, NOW_S, rawRequest, route, startHmacGateway, statusOf, type HmacGateway } from './helpers.js';

let h: HmacGateway;

before(async () => {
  h = await startHmacGateway((up) => [route({ name: 'orders', match: { pathPrefix: '/orders' }, upstream: up, require: { signature: {} } })]);
});
after(async () => {
  await h.gw.close();
  await h.upstream.close();
});

describe('a signature over a trailer field at the gateway', () => {
  test('"x-check";tr with the trailer sent after a chunked body → 401 signature.component-missing', async () => {
    const url = `http://${h.host}/orders/1`;
    const body = 'hello';
    const headers = { 'content-digest': 'sha-256=:LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=:' };
    const s = await signMessage(
      { method: 'POST', url, headers, trailers: { 'x-check': 'abc' } },
      { key: h.signKey, alg: 'hmac-sha256', keyid: 'app1-key', components: ['@method', '@target-uri', 'content-digest', '"x-check";tr'], nonce: randomBytes(12).toString('base64url'), created: NOW_S },
    );
    const raw = await rawRequest(
      h.gw.port,
      `POST /orders/1 HTTP/1.1\r\nHost: ${h.host}\r\nTransfer-Encoding: chunked\r\nTrailer: x-check\r\ncontent-digest: ${headers['content-digest']}\r\nsignature-input: ${s.signatureInput}\r\nsignature: ${s.signature}\r\nConnection: close\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\nx-check: abc\r\n\r\n`,
    );
    assert.equal(statusOf(raw), 401, raw);
    assert.equal(codeOf(raw), 'signature.component-missing', raw);
    assert.match(raw, /x-check/);
  });
});
