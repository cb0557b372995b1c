/**
 * The signature step never builds `@target-uri` from a Host it has not checked (review
 * #1 and #10): a Host with "/", "?", "#", "@", whitespace, or none at all would let a
 * request signed for one path reach another. Refused with `signature.target-invalid`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PortcullisError } from '../../src/core/errors.js';
import type { RequestContext } from '../../src/gateway/context.js';
import { targetUri } from '../../src/gateway/signature-policy.js';

const ctx = (host: string | undefined, url = '/admin/users/42/delete?force=1'): RequestContext =>
  ({ req: { socket: {}, url }, headers: { host, xForwardedProto: undefined } }) as unknown as RequestContext;

describe('signature-policy targetUri: Host validation', () => {
  for (const host of ['127.0.0.1:8080/orders#', '127.0.0.1:8080/sandbox', 'evil.example@127.0.0.1:8080', 'gw?x=', 'gw x', '', 'gw:80:80', ' gw']) {
    test(`Host ${JSON.stringify(host)} is refused with signature.target-invalid`, () => {
      assert.throws(() => targetUri(ctx(host), false), (e: unknown) => e instanceof PortcullisError && e.code === 'signature.target-invalid' && e.status === 400);
    });
  }
  test('no Host at all is refused', () => assert.throws(() => targetUri(ctx(undefined), false), (e: unknown) => e instanceof PortcullisError && e.code === 'signature.target-invalid'));
  test('a valid Host gives scheme://host + request-target', () => {
    assert.equal(targetUri(ctx('gw.example:8080', '/orders?id=1'), false), 'http://gw.example:8080/orders?id=1');
    assert.equal(targetUri(ctx('[::1]:8080', '/x'), false), 'http://[::1]:8080/x');
  });
});
