/**
 * `identity.otp.maxSendsPerHour`: how many one-time codes one user (and, at enrolment, one
 * address) is sent in any 60 minutes, against flooding a phone or pumping SMS. The factor
 * enforced a fixed 10; the setting reaches it from the config file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startTestNode, testConfig } from '../support/portcullis.js';

const ADDRESS = 'victim@example.test';

async function sendsUntilThrottled(config: string): Promise<{ sent: number; code: unknown; message: string }> {
  const node = await startTestNode({ config: testConfig(config) });
  try {
    const user = await node.services.identity.users.add({ email: 'flood@example.test' }, 'test');
    const email = node.services.identity.factors.find((f) => f.id === 'email')!;
    for (let sent = 0; sent < 30; sent++) {
      try {
        await email.enroll({ userId: user.id, address: ADDRESS });
      } catch (e) {
        const err = e as { code?: unknown; message: string };
        return { sent, code: err.code, message: err.message };
      }
      // the 30-s resend interval (per user, and per address at enrolment) skipped, as if it had passed: the hour's count stays
      await node.services.ephemeral.delete(`mfa:otp-send:email:${user.id}`);
      await node.services.ephemeral.delete(`mfa:otp-send:email:to:${createHash('sha256').update(ADDRESS).digest('base64url')}`);
    }
    return { sent: 30, code: undefined, message: '' };
  } finally {
    await node.close();
  }
}

test('identity.otp.maxSendsPerHour: 3 → the 4th code within the hour is refused auth.throttled', async () => {
  const r = await sendsUntilThrottled('identity: { otp: { sender: file, maxSendsPerHour: 3 } }');
  assert.equal(r.sent, 3);
  assert.equal(r.code, 'auth.throttled');
  assert.match(r.message, /too many codes were sent in the last hour/);
});

test('identity.otp.maxSendsPerHour defaults to 10', async () => {
  const r = await sendsUntilThrottled('identity: { otp: { sender: file } }');
  assert.equal(r.sent, 10);
  assert.equal(r.code, 'auth.throttled');
});
