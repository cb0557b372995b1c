/**
 * The gateway audits every denial with the request's path. The path comes from the
 * client, and `gateway.maxHeaderSize` lets a request-target run up to 1 MiB: stored
 * verbatim, one anonymous request wrote up to 1 MiB into the audit trail. The audited path
 * is bounded; its full length is recorded beside it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { codeOf, gatewaySuite, rawRequest, route, statusOf } from './helpers.js';

describe('attack: a 900 KB request path on a gateway that accepts 1 MiB of headers', () => {
  const fx = gatewaySuite(
    (up) => [
      route({ name: 'api', match: { pathPrefix: '/api' }, upstream: up, require: { token: { audience: 'orders-api' } } }),
    ],
    { gateway: { maxHeaderSize: '1mb' } },
  );

  it('a path within the bound is audited whole, without a length', async () => {
    const raw = await rawRequest(fx.gw.port, `GET /api/orders HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n`);
    assert.equal(statusOf(raw), 401);
    const event = fx.gw.audit.events.findLast((e) => e.type === 'gateway.denied');
    assert.deepEqual(event?.data, { method: 'GET', path: '/api/orders', status: 401, ip: '127.0.0.1' });
  });

  it('denied without a token: 401 token.missing, audited with the first 1024 characters of the path and its length', async () => {
    const path = `/api/${'a'.repeat(900_000)}`;
    const raw = await rawRequest(fx.gw.port, `GET ${path} HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n`, 10_000);
    assert.equal(statusOf(raw), 401, raw.slice(0, 300));
    assert.equal(codeOf(raw), 'token.missing');
    const event = fx.gw.audit.events.findLast((e) => e.type === 'gateway.denied');
    assert.equal(event?.reason, 'token.missing');
    const audited = String(event?.data?.['path']);
    assert.equal(audited.length, 1024);
    assert.ok(path.startsWith(audited), 'the start of the path, as it was');
    assert.equal(event?.data?.['pathLength'], path.length);
  });
});
