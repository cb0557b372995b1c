import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PortcullisError } from '../../src/core/errors.js';
import { ACR_MFA, ACR_SINGLE_FACTOR, checkAssurance, stepUpChallenge } from '../../src/gateway/assurance-policy.js';

const NOW = Date.UTC(2025, 0, 1, 12);
const nowS = NOW / 1000;

function denial(fn: () => void): PortcullisError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof PortcullisError);
    return e;
  }
  assert.fail('expected a denial');
}

test('mfa: a password-only token (amr pwd, acr 1fa) is refused with acr_values for MFA', () => {
  const e = denial(() => checkAssurance({ amr: ['pwd'], acr: ACR_SINGLE_FACTOR, auth_time: nowS }, { mfa: true }, NOW));
  assert.equal(e.code, 'token.insufficient-user-authentication');
  assert.equal(e.status, 401);
  assert.deepEqual(e.details, { acrValues: [ACR_MFA] });
  assert.equal(
    stepUpChallenge(e, 'portcullis'),
    `Bearer realm="portcullis", error="insufficient_user_authentication", error_description="the route requires multi-factor authentication", acr_values="${ACR_MFA}"`,
  );
});

test('mfa: password + TOTP, password + SMS code, and a hardware key pass', () => {
  for (const amr of [['pwd', 'otp'], ['pwd', 'sms', 'otp'], ['hwk', 'user']]) checkAssurance({ amr, auth_time: nowS }, { mfa: true }, NOW);
});

test('mfa: a token without amr (client credentials) is refused', () => {
  assert.equal(denial(() => checkAssurance({ sub: 'app' }, { mfa: true }, NOW)).code, 'token.insufficient-user-authentication');
});

test('acr: a token whose acr is not listed is refused and the listed values are asked for', () => {
  const e = denial(() => checkAssurance({ acr: ACR_SINGLE_FACTOR, amr: ['pwd'] }, { acr: [ACR_MFA, 'urn:example:gold'] }, NOW));
  assert.deepEqual(e.details, { acrValues: [ACR_MFA, 'urn:example:gold'] });
  checkAssurance({ acr: 'urn:example:gold' }, { acr: [ACR_MFA, 'urn:example:gold'] }, NOW);
});

test('maxAge: an authentication older than the route allows is refused with max_age in seconds', () => {
  const claims = { amr: ['pwd', 'otp'], acr: ACR_MFA, auth_time: nowS - 16 * 60 };
  const e = denial(() => checkAssurance(claims, { mfa: true, maxAge: 15 * 60_000 }, NOW));
  assert.deepEqual(e.details, { acrValues: [ACR_MFA], maxAge: 900 });
  assert.match(stepUpChallenge(e, 'r'), /, max_age=900$/);
  checkAssurance({ ...claims, auth_time: nowS - 14 * 60 }, { mfa: true, maxAge: 15 * 60_000 }, NOW);
});

test('maxAge: a token without auth_time cannot prove its age and is refused', () => {
  const e = denial(() => checkAssurance({ amr: ['pwd', 'otp'] }, { maxAge: 60_000 }, NOW));
  assert.deepEqual(e.details, { maxAge: 60 });
});

test('attack: amr forged as a string instead of an array does not count as MFA', () => {
  assert.equal(denial(() => checkAssurance({ amr: 'otp' }, { mfa: true }, NOW)).code, 'token.insufficient-user-authentication');
});

test('no requirement: any verified token passes', () => {
  checkAssurance({}, {}, NOW);
});

test('attack: one authentication method is one factor: amr ["otp"], ["sms"], ["hwk"], ["swk"] or ["pin"] alone (passwordless sign-in at an external issuer) is not MFA', () => {
  for (const amr of [['otp'], ['sms'], ['hwk'], ['swk'], ['pin'], ['otp', 'otp']]) {
    const e = denial(() => checkAssurance({ amr, auth_time: nowS }, { mfa: true }, NOW));
    assert.equal(e.code, 'token.insufficient-user-authentication', JSON.stringify(amr));
    assert.deepEqual(e.details, { acrValues: [ACR_MFA] });
  }
});

test('attack: one SMS code is one factor however it is described: amr ["sms", "otp"] (how Portcullis itself names a texted code) from a passwordless sign-in at an external issuer is not MFA', () => {
  for (const amr of [['sms', 'otp'], ['otp', 'sms'], ['sms', 'otp', 'sms']]) {
    const e = denial(() => checkAssurance({ amr, auth_time: nowS }, { mfa: true }, NOW));
    assert.equal(e.code, 'token.insufficient-user-authentication', JSON.stringify(amr));
    assert.deepEqual(e.details, { acrValues: [ACR_MFA] });
  }
  // beside another factor it is the second one
  for (const amr of [['pwd', 'sms'], ['pwd', 'sms', 'otp'], ['sms', 'otp', 'hwk']]) checkAssurance({ amr, auth_time: nowS }, { mfa: true }, NOW);
});

test('mfa: amr "mfa" (RFC 8176: multiple-factor authentication) passes on its own', () => {
  checkAssurance({ amr: ['mfa'], auth_time: nowS }, { mfa: true }, NOW);
  checkAssurance({ amr: ['pwd', 'mfa'], auth_time: nowS }, { mfa: true }, NOW);
});

test('attack: an auth_time in the future (beyond the leeway) does not satisfy maxAge and asks for a fresh sign-in', () => {
  const claims = { amr: ['pwd', 'otp'], acr: ACR_MFA, auth_time: nowS + 3600 };
  const e = denial(() => checkAssurance(claims, { maxAge: 15 * 60_000 }, NOW, 30_000));
  assert.equal(e.code, 'token.insufficient-user-authentication');
  assert.equal(e.status, 401);
  assert.deepEqual(e.details, { maxAge: 900 });
  assert.match(stepUpChallenge(e, 'r'), /error="insufficient_user_authentication", .*, max_age=900$/);
  // within the clock leeway it passes, as an unskewed one would
  checkAssurance({ ...claims, auth_time: nowS + 20 }, { maxAge: 15 * 60_000 }, NOW, 30_000);
  assert.equal(denial(() => checkAssurance({ ...claims, auth_time: nowS + 20 }, { maxAge: 15 * 60_000 }, NOW)).code, 'token.insufficient-user-authentication');
});
