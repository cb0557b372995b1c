/**
 * oidc-provider's cookie signatures (src/identity/oidc/cookie-grip.ts): the same as
 * keygrip's, so cookies issued before stay valid, through rotations; a forged, garbled
 * or missing signature is refused, also through koa's `cookies`, which reads them.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { cookieGrip } from '../../src/identity/oidc/cookie-grip.js';

const require = createRequire(import.meta.url);
type Grip = { sign(d: string): string; index(d: string, s: string): number };
const Keygrip = require('keygrip') as new (keys: string[]) => Grip;
const Cookies = require('cookies') as new (req: unknown, res: unknown, opts: { keys: unknown }) => { get(name: string, o: { signed: boolean }): string | undefined };

test('signatures are keygrip’s: each verifies the other’s, through a key rotation', () => {
  const data = '_session=0Zq8bJr3lQe1m9c';
  const grip = cookieGrip(['k-new', 'k-old']);
  assert.equal(grip.sign(data), new Keygrip(['k-new']).sign(data));
  assert.equal(new Keygrip(['k-new', 'k-old']).index(data, grip.sign(data)), 0);
  // a cookie signed before the rotation still verifies, by the older key
  assert.equal(grip.index(data, new Keygrip(['k-old']).sign(data)), 1);
  assert.equal(grip.verify(data, new Keygrip(['k-old']).sign(data)), true);
});

test('a forged, garbled, truncated, other-cookie or missing signature is refused', () => {
  const grip = cookieGrip(['k1']);
  const data = '_interaction=abc';
  const good = grip.sign(data);
  const flipped = good.slice(0, -1) + (good.endsWith('A') ? 'B' : 'A');
  for (const bad of [flipped, good.slice(1), `${good}x`, '', cookieGrip(['other']).sign(data), grip.sign('_interaction=abd')]) {
    assert.equal(grip.index(data, bad), -1, bad);
    assert.equal(grip.verify(data, bad), false);
  }
  assert.equal(grip.index(data, undefined as unknown as string), -1);
  assert.throws(() => cookieGrip([]), /at least one key/);
});

test('koa’s cookies reads a signed cookie through the grip, and drops it when its signature is forged', () => {
  const grip = cookieGrip(['k1']);
  const value = 'session-id-123';
  const read = (sig: string) =>
    new Cookies({ headers: { cookie: `_session=${value}; _session.sig=${sig}` }, connection: {} }, { getHeader: () => undefined, setHeader: () => undefined }, { keys: grip }).get('_session', {
      signed: true,
    });
  assert.equal(read(grip.sign(`_session=${value}`)), value);
  assert.equal(read(new Keygrip(['k1']).sign(`_session=${value}`)), value);
  assert.equal(read(new Keygrip(['attacker']).sign(`_session=${value}`)), undefined);
});
