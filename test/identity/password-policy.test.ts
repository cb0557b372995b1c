/** NIST SP 800-63B password rules and the shipped common-password list. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blocklistOf, loadCommonPasswords } from '../../src/identity/passwords/common-passwords.js';
import { checkNewPassword, codePointLength } from '../../src/identity/passwords/password-policy.js';

const list = await loadCommonPasswords();
const rejects = (pw: string, code: string, reason?: string, ctx?: string[]) =>
  assert.throws(
    () => checkNewPassword(pw, list, { contextWords: ctx }),
    (e: { code?: string; message: string; details?: { reason?: string } }) => {
      assert.equal(e.code, code);
      if (reason) assert.equal(e.details?.reason, reason);
      assert.ok(!e.message.includes(pw), 'the message must not repeat the password');
      return true;
    },
  );

test('the shipped list is a real list of tens of thousands of common passwords', () => {
  assert.ok(list.size > 40_000);
  for (const p of ['123456', 'password', 'qwerty', 'iloveyou', 'trustno1', 'baseball']) assert.equal(list.has(p), true, p);
  assert.equal(list.has('correct horse battery staple'), false);
});

test('fewer than 8 characters is password.too-short; exactly 8 is enough', () => {
  rejects('xk3#Qa9', 'password.too-short');
  assert.equal(checkNewPassword('xk3#Qa9v', list), 'xk3#Qa9v');
});

test('length is counted in code points after NFKC: 8 emoji are 8 characters, not 16', () => {
  const emoji = '🦊🐙🦉🐝🦄🐢🦔🐳';
  assert.equal(emoji.length, 16);
  assert.equal(codePointLength(emoji), 8);
  assert.equal(checkNewPassword(emoji, list), emoji);
  rejects('🦊🐙🦉🐝🦄🐢🦔', 'password.too-short');
});

test('NFKC: full-width letters are normalised before checks (ｐａｓｓｗｏｒｄ is "password")', () => {
  rejects('ｐａｓｓｗｏｒｄ', 'password.common', 'common');
  assert.equal(checkNewPassword('ﬁne wine tasting', list), 'fine wine tasting');
});

test('long passphrases are allowed (64 and more), with spaces and any script; past the maximum is too long', () => {
  const long = 'the quick brown fox jumps over the lazy dog while it is sleeping ok';
  assert.ok(codePointLength(long) > 64);
  assert.equal(checkNewPassword(long, list), long);
  assert.equal(checkNewPassword('Ünïcödé пароль 密码 كلمة', list).length > 0, true);
  rejects('a b c d '.repeat(40), 'password.too-long');
});

test('no composition rules: all lower-case letters are fine when not common', () => {
  assert.equal(checkNewPassword('purple monkey dishwasher', list), 'purple monkey dishwasher');
});

test('common and breached passwords are rejected whatever their case', () => {
  assert.throws(() => checkNewPassword('password', list), (e: { code?: string }) => e.code === 'password.common');
  rejects('PASSWORD1', 'password.common', 'common');
  rejects('iloveyou', 'password.common', 'common');
  rejects('12345678', 'password.common');
});

test('repetitive and sequential passwords are rejected', () => {
  rejects('zzzzzzzzzzzz', 'password.common', 'repetitive');
  rejects('abcdefghijk', 'password.common', 'repetitive');
  rejects('876543210', 'password.common', 'repetitive');
  rejects('xqzxqzxqzxqz', 'password.common', 'repetitive');
});

test('context words: the user name or service name with a few characters added is rejected', () => {
  rejects('maximilian2024', 'password.common', 'context', ['maximilian', 'maximilian@example.com']);
  rejects('Portcullis!!', 'password.common', 'context', ['portcullis']);
  assert.equal(checkNewPassword('maximilian rides a blue bicycle', list, { contextWords: ['maximilian'] }).length > 0, true);
});

test('a custom list works the same way', () => {
  const custom = blocklistOf(['hunter2hunter2']);
  assert.throws(() => checkNewPassword('HUNTER2hunter2', custom), (e: { code?: string }) => e.code === 'password.common');
  assert.equal(checkNewPassword('password', custom), 'password');
});
