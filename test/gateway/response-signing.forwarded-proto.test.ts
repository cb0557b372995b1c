/**
 * The request binding of a signed response (`@authority;req` among others) behind a
 * TLS-terminating trusted proxy. `@authority` is normalised with the scheme (RFC 9421
 * §2.2.3: a port that is the scheme's default is left out), so a gateway that bound the
 * response with its listener's scheme (http) while the client addressed https bound
 * `host:443` where the client's own request has `host`: every such response failed to
 * verify. The scheme is the one the gateway states upstream: a trusted proxy's last
 * X-Forwarded-Proto or last Forwarded element's proto=, never a client's claim.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { verifyResponse } from '../../src/sdk/index.js';
import { rawRequest } from './helpers.js';
import { code, startAccountGateway, type AccountGateway } from './response-signing-fixture.js';

/** The trusted proxy of these tests: a loopback address other than the client's 127.0.0.1. */
const PROXY = '127.0.0.2';

let gw: AccountGateway;

before(async () => {
  gw = await startAccountGateway('gw-fwd', { trustedProxies: [PROXY] });
});
after(() => gw.close());

/** GET /acct/alice with `Host: api.example:443` and `forwarding`, from `from`; the answer as a fetch Response. */
async function get(from: string, forwarding: string): Promise<Response> {
  const raw = await rawRequest(gw.port, `GET /acct/alice HTTP/1.1\r\nHost: api.example:443\r\n${forwarding}Connection: close\r\n\r\n`, 2000, from);
  const split = raw.indexOf('\r\n\r\n');
  const [status, ...lines] = raw.slice(0, split).split('\r\n');
  const headers = new Headers();
  for (const l of lines) {
    const colon = l.indexOf(':');
    const name = l.slice(0, colon).trim().toLowerCase();
    if (name !== 'transfer-encoding' && name !== 'connection') headers.append(name, l.slice(colon + 1).trim());
  }
  return new Response(Buffer.from(raw.slice(split + 4), 'latin1'), { status: Number(status!.split(' ')[1]), headers });
}

describe('a signed response binds the authority the client addressed behind a TLS-terminating trusted proxy', () => {
  test('from the trusted proxy, X-Forwarded-Proto: https: the response verifies against https://api.example/…', async () => {
    const res = await get(PROXY, 'X-Forwarded-Proto: https\r\n');
    assert.equal(res.status, 200);
    const v = await verifyResponse(res, { keys: gw.keys.keys, request: new Request('https://api.example:443/acct/alice') });
    assert.ok(v.components.includes('"@authority";req'), v.components.join(' '));
  });

  test('from the trusted proxy that writes only Forwarded, its last element\'s proto=https gives the scheme', async () => {
    const res = await get(PROXY, 'Forwarded: for=198.51.100.1;proto=http, for=192.0.2.5;proto=https\r\n');
    await verifyResponse(res, { keys: gw.keys.keys, request: new Request('https://api.example/acct/alice') });
  });

  test("attack: a client's X-Forwarded-Proto: https is not believed: the binding keeps the connection's scheme (http, port 443 stated)", async () => {
    const res = await get('127.0.0.1', 'X-Forwarded-Proto: https\r\n');
    await assert.rejects(verifyResponse(res.clone(), { keys: gw.keys.keys, request: new Request('https://api.example/acct/alice') }), code('signature.invalid'));
    await verifyResponse(res, { keys: gw.keys.keys, request: new Request('http://api.example:443/acct/alice') });
  });
});
