/**
 * The signature step never builds `@target-uri` from a Host it has not checked (review
 * #1 and #10): a Host with "/", "?", "#", "@", whitespace, or none at all would let a
 * request signed for one path reach another. Refused with `signature.target-invalid`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PortcullisError } from '../../src/core/errors.js';
import type { RequestContext } from '../../src/gateway/context.js';
import { signatureStep, targetUri } from '../../src/gateway/signature-policy.js';
import { route } from './helpers.js';

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

describe('signatureStep: route components with sf/key need a known structured type', () => {
  const deps = { appSigningKeys: { lookup: () => undefined }, ephemeral: { consumeOnceMadeAt: async () => 'first' as const }, clock: { now: () => 0 } };
  const make = (components: string[]) => {
    const r = route({ name: 'r', match: { pathPrefix: '/' }, upstream: 'http://127.0.0.1:1', require: { signature: { components } } });
    return signatureStep(r, r.require.signature!, deps);
  };
  test('"x-tenant";sf and "x-roles";key="a" refuse to start (config.invalid), naming the route and component', () => {
    for (const c of ['"x-tenant";sf', '"x-roles";key="a"']) {
      assert.throws(() => make(['@method', c]), (e: unknown) => e instanceof PortcullisError && e.code === 'config.invalid' && e.message.includes('routes[r]') && e.message.includes(c));
    }
  });
  test('known structured fields and plain fields start', () => {
    assert.equal(typeof make(['@method', '"priority";sf', '"content-digest";key="sha-256"', 'x-tenant']), 'function');
  });
});
