/**
 * Attack: a redirect carries a signed request elsewhere. A signature covers one target
 * URI; fetch, following a 3xx, re-sends Signature, Signature-Input and Content-Digest
 * (and, on the same origin, the bearer token and a 307's body) to the Location, where it
 * can only fail or be captured. `createSignedFetch` follows no redirect: the 3xx comes
 * back to the app, which signs afresh for the Location if it wants to go there.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSignedFetch, requestOf } from '../../src/sdk/index.js';

let elsewhere: Server;
let redirector: Server;
let elsewhereUrl: string;
let redirectorUrl: string;
const captured: Array<{ url: string; headers: IncomingHttpHeaders; body: string }> = [];

before(async () => {
  elsewhere = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      captured.push({ url: req.url!, headers: req.headers, body });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => elsewhere.listen(0, '127.0.0.1', r));
  elsewhereUrl = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}`;
  redirector = createServer((req, res) => {
    req.resume();
    const [status, where] = (req.url!.slice(1).split('?')[0] ?? '').split('-') as [string, string];
    const location = where === 'cross' ? `${elsewhereUrl}/steal` : `${redirectorUrl}/same`;
    if (req.url === '/same') {
      captured.push({ url: req.url, headers: req.headers, body: '' });
      res.end('{}');
      return;
    }
    res.writeHead(Number(status), { location });
    res.end();
  });
  await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r));
  redirectorUrl = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}`;
});
after(() => {
  elsewhere.close();
  redirector.close();
});

const signedFetch = createSignedFetch({ keyid: 'app1.k1', hmacSecret: Buffer.alloc(32, 7).toString('base64url'), token: () => 'the-access-token' });

describe('attack: a redirect re-sends the signed request to its Location', () => {
  for (const [status, method] of [
    [302, 'POST'],
    [303, 'POST'],
    [307, 'POST'],
    [308, 'GET'],
    [301, 'GET'],
  ] as const) {
    test(`a ${status} to another origin after a ${method}: nothing reaches it, the ${status} itself comes back`, async () => {
      captured.length = 0;
      const res = await signedFetch(`${redirectorUrl}/${status}-cross`, method === 'POST' ? { method, body: '{"card":"4111"}', headers: { 'content-type': 'application/json' } } : {});
      assert.equal(res.status, status);
      assert.equal(res.headers.get('location'), `${elsewhereUrl}/steal`);
      assert.ok(requestOf(res), 'the 3xx is still the answer to the signed request');
      assert.deepEqual(captured, [], 'the other origin received the signed request');
    });
  }

  test('a redirect on the same origin: the signature (made for another URI) and the bearer token are not re-sent either', async () => {
    captured.length = 0;
    const res = await signedFetch(`${redirectorUrl}/302-same`, { method: 'GET' });
    assert.equal(res.status, 302);
    assert.deepEqual(captured, []);
  });

  test('redirect: "error" stays an error', async () => {
    await assert.rejects(signedFetch(`${redirectorUrl}/302-cross`, { redirect: 'error' }), TypeError);
  });
});
