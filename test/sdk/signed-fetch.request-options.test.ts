/**
 * `createSignedFetch` rebuilds the request it signs (the URI as sent, Content-Digest, the
 * signature headers), and the caller's fetch options that do not change what is signed
 * must survive that: `keepalive` (a request sent as the page unloads), `cache`,
 * `integrity`, `referrer`, `referrerPolicy`, `mode`, `credentials` and `signal`. Checked on
 * the Request the SDK hands to the underlying fetch, given as init or on a Request.
 * `mode: 'no-cors'` is refused: a browser strips a no-cors request of its signature.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSignedFetch, requestOf } from '../../src/sdk/index.js';

const options = {
  keepalive: true,
  cache: 'no-store',
  integrity: 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=',
  referrer: 'https://app.example/checkout',
  referrerPolicy: 'strict-origin',
  mode: 'same-origin',
  credentials: 'omit',
} as const satisfies RequestInit;

type Seen = Pick<Request, keyof typeof options>;
const facts = (r: Request): Seen => ({ keepalive: r.keepalive, cache: r.cache, integrity: r.integrity, referrer: r.referrer, referrerPolicy: r.referrerPolicy, mode: r.mode, credentials: r.credentials });

function recording(): { signedFetch: typeof fetch; sent: Request[] } {
  const sent: Request[] = [];
  const signedFetch = createSignedFetch({
    keyid: 'app1.k1',
    hmacSecret: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    fetch: async (input) => {
      sent.push(input as Request);
      return new Response('{}');
    },
  });
  return { signedFetch, sent };
}

test("the caller's keepalive, cache, integrity, referrer, referrerPolicy, mode and credentials reach the fetch the SDK calls (given as init)", async () => {
  const { signedFetch, sent } = recording();
  const res = await signedFetch('https://api.example/beacon', { method: 'POST', body: '{"left":true}', headers: { 'content-type': 'application/json' }, ...options });
  assert.deepEqual(facts(sent[0]!), options);
  assert.deepEqual(facts(requestOf(res)!), options);
  assert.ok(sent[0]!.headers.get('signature'), 'still signed');
});

test("the same options on a Request given as input reach the fetch the SDK calls, and its signal too", async () => {
  const { signedFetch, sent } = recording();
  const abort = new AbortController();
  await signedFetch(new Request('https://api.example/orders/1', { ...options, signal: abort.signal }));
  assert.deepEqual(facts(sent[0]!), options);
  abort.abort();
  assert.equal(sent[0]!.signal.aborted, true, "the caller's signal aborts the request sent");
});

test('without options the request keeps fetch defaults (no keepalive, default cache, no integrity, the client referrer, cors)', async () => {
  const { signedFetch, sent } = recording();
  await signedFetch('https://api.example/orders/1');
  assert.deepEqual(facts(sent[0]!), { keepalive: false, cache: 'default', integrity: '', referrer: 'about:client', referrerPolicy: '', mode: 'cors', credentials: 'same-origin' });
});

test("misuse: mode 'no-cors' is a TypeError before anything is sent (a browser would send the request without its Signature headers)", async () => {
  const { signedFetch, sent } = recording();
  await assert.rejects(signedFetch('https://api.example/orders/1', { mode: 'no-cors' }), (e: unknown) => e instanceof TypeError && /no-cors/.test(e.message));
  assert.equal(sent.length, 0);
});
