/**
 * Webhook SSRF, IPv6 special-use ranges and forms the block list missed: the
 * documentation prefix 3fff::/20 (RFC 9637) and the SRv6 SID block 5f00::/16
 * (RFC 9602) are not global unicast, so a webhook may not go there. An IPv6 address
 * with a zone id (`fe80::1%eth0`, as a resolver may answer) names an interface-scoped
 * destination: never public, and checking it must not throw.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { addressClass, forbiddenHostClass, isPublicAddress, publicOnlyLookupWith } from '../../src/webhooks/target.js';

describe('webhook target special-use IPv6 ranges', () => {
  test('attack: an address in 3fff::/20 (documentation, RFC 9637) is not public (documentation)', () => {
    for (const ip of ['3fff::', '3fff::1', '3FFF:0FFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF', '3fff:abc::1']) {
      assert.equal(isPublicAddress(ip), false, ip);
      assert.equal(addressClass(ip), 'documentation', ip);
    }
    assert.equal(forbiddenHostClass(new URL('http://[3fff::1]/').hostname), 'documentation');
    // just outside the /20 stays public
    assert.equal(isPublicAddress('3fff:1000::1'), true);
  });

  test('attack: an address in 5f00::/16 (SRv6 SIDs, RFC 9602) is not public (reserved)', () => {
    for (const ip of ['5f00::', '5f00::1', '5F00:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF']) {
      assert.equal(isPublicAddress(ip), false, ip);
      assert.equal(addressClass(ip), 'reserved', ip);
    }
    assert.equal(forbiddenHostClass(new URL('http://[5f00::1]/').hostname), 'reserved');
    assert.equal(isPublicAddress('5f01::1'), true);
  });

  test('attack: an IPv6 address with a zone id is never public, and checking it does not throw', () => {
    for (const [ip, cls] of [
      ['fe80::1%eth0', 'link-local'],
      ['fe80::1%25eth0', 'link-local'],
      ['FE80::1%1', 'link-local'],
      ['::1%lo', 'loopback'],
      ['::ffff:127.0.0.1%eth0', 'loopback'],
      ['ff02::1%eth0', 'multicast'],
      // a zone on a global address is no global destination either
      ['2606:4700::1111%eth0', 'reserved'],
    ] as const) {
      assert.doesNotThrow(() => isPublicAddress(ip), ip);
      assert.equal(isPublicAddress(ip), false, ip);
      assert.equal(addressClass(ip), cls, ip);
    }
  });

  test('a lookup answering a zoned address is refused with target-forbidden, not an exception', async () => {
    const answer: LookupAddress[] = [{ address: 'fe80::1%eth0', family: 6 }];
    const lookup = publicOnlyLookupWith((_h, _o, cb) => cb(null, answer));
    const [err, got] = await new Promise<[unknown, unknown]>((resolve) => lookup('zoned.example', { all: true }, (e, a) => resolve([e, a])));
    assert.equal((err as { code?: string } | null)?.code, 'target-forbidden');
    assert.equal((err as { addressClass?: string }).addressClass, 'link-local');
    assert.deepEqual(got, []);
  });
});
