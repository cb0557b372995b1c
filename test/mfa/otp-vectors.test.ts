/** RFC 4226 Appendix D and RFC 6238 Appendix B, from ../shared/vectors/otp. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { hotp, totp, timeStep, type OtpAlgorithm } from '../../src/mfa/totp/hotp.js';

interface Vectors {
  hotp: { secretAscii: string; digits: number; algorithm: OtpAlgorithm; cases: { counter: number; otp: string }[] };
  totp: { t0: number; period: number; digits: number; secretsAscii: Record<OtpAlgorithm, string>; cases: { time: number; algorithm: OtpAlgorithm; otp: string }[] };
}

const vectors = JSON.parse(readFileSync(new URL('../../../shared/vectors/otp/rfc4226-rfc6238.json', import.meta.url), 'utf8')) as Vectors;
const ascii = (s: string) => new TextEncoder().encode(s);

test('the vector file has the 10 HOTP and 18 TOTP cases', () => {
  assert.equal(vectors.hotp.cases.length, 10);
  assert.equal(vectors.totp.cases.length, 18);
});

for (const c of vectors.hotp.cases) {
  test(`RFC 4226 HOTP counter ${c.counter} → ${c.otp}`, () => {
    assert.equal(hotp(ascii(vectors.hotp.secretAscii), c.counter, vectors.hotp.algorithm, vectors.hotp.digits), c.otp);
  });
}

for (const c of vectors.totp.cases) {
  test(`RFC 6238 TOTP ${c.algorithm} at T=${c.time} → ${c.otp} (per-algorithm seed length)`, () => {
    const seed = ascii(vectors.totp.secretsAscii[c.algorithm]);
    const params = { algorithm: c.algorithm, digits: vectors.totp.digits, period: vectors.totp.period, t0: vectors.totp.t0 };
    assert.equal(totp(seed, c.time * 1000, params), c.otp);
  });
}

test('the 20-byte SHA1 seed used for SHA512 does not reproduce the SHA512 vector (the common bug the vectors warn about)', () => {
  const c = vectors.totp.cases.find((x) => x.algorithm === 'SHA512')!;
  const wrong = totp(ascii(vectors.totp.secretsAscii.SHA1), c.time * 1000, { algorithm: 'SHA512', digits: 8, period: 30 });
  assert.notEqual(wrong, c.otp);
});

test('time step counter: T = floor((t - T0) / X)', () => {
  assert.equal(timeStep(59_000, 30), 1);
  assert.equal(timeStep(1111111109_000, 30), 0x23523ec);
  assert.equal(timeStep(29_999, 30), 0);
  assert.equal(timeStep(30_000, 30), 1);
});
