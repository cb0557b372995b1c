/**
 * Headers only the gateway states: its identity headers (`x-portcullis-*`) and the
 * client-certificate headers TLS-terminating proxies set (RFC 9700 §4.13, RFC 8705 §7.2).
 * A client's copy never reaches the upstream, in any spelling: CGI, WSGI and Rack map
 * `-` and `_` to the same `HTTP_X_PORTCULLIS_SUBJECT`, so an underscore spelling is the
 * same header to them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rawRequest, route, startGateway, startUpstream, type TestGateway, type Upstream } from './helpers.js';

describe('forged identity and client-certificate headers', () => {
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway([route({ name: 'public', match: { pathPrefix: '/' }, upstream: upstream.url })]);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  async function upstreamNames(headers: string[]): Promise<string[]> {
    const before = upstream.seen.length;
    const raw = await rawRequest(gw.port, `GET /x HTTP/1.1\r\nHost: api.example\r\n${headers.map((h) => `${h}: forged\r\n`).join('')}X-Kept: 1\r\nConnection: close\r\n\r\n`);
    assert.match(raw, /^HTTP\/1\.1 200 /, raw);
    assert.equal(upstream.seen.length, before + 1);
    return upstream.seen.at(-1)!.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
  }

  it('underscore spellings of the identity and client-certificate headers are stripped', async () => {
    const sent = ['X_Portcullis_Subject', 'X_Portcullis_Client_Id', 'X_Portcullis_Scopes', 'x-portcullis_client-cert_app', 'X_Client_Cert', 'SSL_Client_Cert', 'X_SSL_Client_Verify', 'X_Forwarded_Client_Cert', 'Client_Cert', 'X_Forwarded_For', 'X_Forwarded_Proto', 'X_Forwarded_Host'];
    const names = await upstreamNames(sent);
    for (const n of sent) assert.ok(!names.includes(n.toLowerCase()), `${n} reached the upstream`);
    assert.ok(names.includes('x-kept'));
  });

  it('client-certificate headers of common proxies are stripped (Traefik, nginx, AWS ALB, Azure ARR, Envoy, RFC 9440)', async () => {
    const sent = [
      'X-Forwarded-Tls-Client-Cert',
      'X-Forwarded-Tls-Client-Cert-Info',
      'X-SSL-Cert',
      'X-SSL-Client-Cert',
      'X-SSL-Client-S-DN',
      'X-SSL-Client-Verify',
      'X-Amzn-Mtls-Clientcert',
      'X-Amzn-Mtls-Clientcert-Leaf',
      'X-Amzn-Mtls-Clientcert-Subject',
      'X-ARR-ClientCert',
      'X-Client-Certificate',
      'X-Forwarded-Client-Cert',
      'Client-Cert',
      'Client-Cert-Chain',
      'X-Client-Cert',
      'X-Client-Verify',
      'X-Client-DN',
      'SSL-Client-Cert',
    ];
    const names = await upstreamNames(sent);
    for (const n of sent) assert.ok(!names.includes(n.toLowerCase()), `${n} reached the upstream`);
    assert.ok(names.includes('x-kept'));
  });

  it('names that only look alike are forwarded', async () => {
    const sent = ['X-Client-Id', 'X-Portcullisx', 'X_Request_Id', 'SSL-Session'];
    const names = await upstreamNames(sent);
    for (const n of sent) assert.ok(names.includes(n.toLowerCase()), `${n} was dropped`);
  });
});
