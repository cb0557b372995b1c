/**
 * Transit's strict base64 (plaintexts, contexts and inputs over HTTP): exactly the padded
 * standard alphabet, as the regular expression /^[A-Za-z0-9+/]*={0,2}$/ with a length of 4n
 * defines it, although the check runs on Node's lenient decoder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromBase64 } from '../../src/http/transit-ops.js';

const strict = (v: string) => v.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(v);
const accepts = (v: string) => {
  try {
    fromBase64(v, 'plaintext');
    return true;
  } catch (e) {
    assert.equal((e as { code?: string }).code, 'transit.invalid-input');
    return false;
  }
};

test('transit base64: named near-misses are refused as transit.invalid-input (URL-safe alphabet, inner padding, whitespace, UTF-16 units that alias a letter)', () => {
  for (const bad of ['aGk', 'a-k=', 'a_k=', 'aG=k', 'a===', '====', 'aG k', 'aGk\n', 'aGk.', 'aG\u0141=', '\u0141\u0141\u0141\u0141', 'aGk=aGk=']) {
    assert.equal(accepts(bad), false, JSON.stringify(bad));
  }
  for (const good of ['', 'aGk=', 'aGk+', 'aGkh', 'QQ==', 'QR==', 'ab/+']) assert.equal(accepts(good), true, good);
  assert.deepEqual(fromBase64('aGk=', 'x'), Buffer.from('hi'));
});

test('transit base64: on 200,000 random strings the check accepts exactly what the strict definition accepts', () => {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const odd = ['=', '-', '_', ' ', '\n', '.', '!', '\u0141', '\u00e9', '\u0000', '\t', '\u2028', '\ud83d'];
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const mismatches: string[] = [];
  for (let i = 0; i < 200_000; i++) {
    let s = '';
    const len = Math.floor(rnd() * 14);
    for (let j = 0; j < len; j++) s += rnd() < 0.85 ? alphabet[Math.floor(rnd() * 64)] : odd[Math.floor(rnd() * odd.length)];
    if (rnd() < 0.3) s = Buffer.from(String(rnd())).toString('base64').slice(0, Math.floor(rnd() * 20));
    if (accepts(s) !== strict(s)) mismatches.push(JSON.stringify(s));
  }
  assert.deepEqual(mismatches.slice(0, 10), []);
});
