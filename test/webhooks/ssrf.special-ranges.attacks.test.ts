/**
 * Webhook SSRF, IPv6 special-use ranges and forms the block list missed: the
 * documentation prefix 3fff::/20 (RFC 9637) and the SRv6 SID block 5f00::/16
 * (RFC 9602) are not global unicast, so a webhook may not go there.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { addressClass, forbiddenHostClass, isPublicAddress } from '../../src/webhooks/target.js';

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
});
