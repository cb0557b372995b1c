/**
 * Method override: the gateway matches routes and applies policies by the request
 * method, but Express `method-override`, Rack::MethodOverride-style middleware, Spring
 * filters and ASP.NET run the method named in `X-HTTP-Method-Override`, `X-HTTP-Method`
 * or `X-Method-Override` instead. A caller allowed only GET could have the upstream run
 * DELETE. A request carrying any of them, in any spelling (CGI reads `_` as `-`), is
 * refused with 400 request.method-override before routing, audited, and never forwarded.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { codeOf, rawRequest, route, startGateway, startUpstream, statusOf, type TestGateway, type Upstream } from './helpers.js';

describe('method override headers', () => {
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway([route({ name: 'read-only', match: { pathPrefix: '/orders', methods: ['GET'] }, upstream: upstream.url })]);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const get = (extra: string): Promise<string> => rawRequest(gw.port, `GET /orders/1 HTTP/1.1\r\nHost: api.example\r\n${extra}Connection: close\r\n\r\n`);

  for (const name of ['X-HTTP-Method-Override', 'X-HTTP-Method', 'X-Method-Override', 'x-http-method-override', 'X_HTTP_Method_Override', 'x_method-override']) {
    it(`a GET with ${name}: DELETE on a GET-only route: 400 request.method-override, audited, the upstream sees nothing`, async () => {
      const seen = upstream.seen.length;
      const denied = gw.audit.events.length;
      const raw = await get(`${name}: DELETE\r\n`);
      assert.equal(statusOf(raw), 400, raw);
      assert.equal(codeOf(raw), 'request.method-override');
      assert.equal(upstream.seen.length, seen);
      const e = gw.audit.events.slice(denied).find((x) => x.type === 'gateway.denied');
      assert.equal(e?.reason, 'request.method-override');
      assert.equal((e?.data as { status?: number } | undefined)?.status, 400);
    });
  }

  it('refused even when it names the request method itself (the gateway does not judge the value)', async () => {
    const raw = await get('X-HTTP-Method-Override: GET\r\n');
    assert.equal(statusOf(raw), 400, raw);
    assert.equal(codeOf(raw), 'request.method-override');
  });

  it('control: a GET without them passes, and a look-alike name is forwarded', async () => {
    const raw = await get('X-HTTP-Method-Overrides: x\r\n');
    assert.equal(statusOf(raw), 200, raw);
    assert.equal(upstream.seen.at(-1)!.headers['x-http-method-overrides'], 'x');
  });
});

/**
 * The same override as a query parameter: Express `method-override('_method')` reads
 * `req.query._method`, and Symfony (`http_method_parameter_override`) reads `_method`
 * from the query as well as the form body, in both cases for a POST. A POST-only route
 * could have the upstream run DELETE. Query parsers decode the name first (`%5Fmethod`,
 * `_%6Dethod`) and PHP-style parsers strip `[]`, so those spellings are refused too.
 */
describe('method override query parameter', () => {
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway([route({ name: 'create-only', match: { pathPrefix: '/orders', methods: ['POST'] }, upstream: upstream.url })]);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const post = (target: string): Promise<string> => rawRequest(gw.port, `POST ${target} HTTP/1.1\r\nHost: api.example\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);

  for (const target of ['/orders/1?_method=DELETE', '/orders/1?a=1&_method=DELETE', '/orders/1?_METHOD=delete', '/orders/1?%5Fmethod=DELETE', '/orders/1?_%6Dethod=DELETE', '/orders/1?_method[]=DELETE', '/orders/1?x=1;_method=DELETE', '/orders/1?_method', '/orders/1?_method%5B%5D=DELETE', '/orders/1?%5f%6d%65%74%68%6f%64=DELETE', '/orders/1?_%6Dethod[%ZZ]=DELETE']) {
    it(`POST ${target} on a POST-only route: 400 request.method-override, audited, the upstream sees nothing`, async () => {
      const seen = upstream.seen.length;
      const denied = gw.audit.events.length;
      const raw = await post(target);
      assert.equal(statusOf(raw), 400, raw);
      assert.equal(codeOf(raw), 'request.method-override');
      assert.equal(upstream.seen.length, seen);
      const e = gw.audit.events.slice(denied).find((x) => x.type === 'gateway.denied');
      assert.equal(e?.reason, 'request.method-override');
    });
  }

  for (const target of ['/orders/1?method=DELETE', '/orders/1?http_method=x', '/orders/1?q=_method', '/orders/1?q=%5Fmethod%3DDELETE', '/orders/1?__method=x', '/orders/1?_methods=x', '/orders/1?page_size=10&sort_by=method', '/orders/1?q=%41&_x=1']) {
    it(`control: POST ${target} is forwarded (another name, or _method only in a value)`, async () => {
      const raw = await post(target);
      assert.equal(statusOf(raw), 200, raw);
      assert.equal(upstream.seen.at(-1)!.url, target);
    });
  }
});
