/**
 * Webhook SSRF, address forms the canonical-text checks missed: an IPv6 address written
 * out in full (`64:ff9b:0:0:0:0:7f00:1`, `0:0:0:0:0:ffff:7f00:1`) embeds the same IPv4
 * address as its compressed form, and the RFC 2765 translated form `::ffff:0:a.b.c.d`
 * is special-use too. A name whose lookup answers several addresses, one of them private,
 * is refused at connect time even when the public one comes first.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { addressClass, forbiddenHostClass, isPublicAddress, publicOnlyLookupWith } from '../../src/webhooks/target.js';

describe('webhook target address forms', () => {
  test('uncompressed and upper-case IPv6 forms embedding a non-public IPv4 address are not public, and take its class', () => {
    for (const [ip, cls] of [
      ['64:ff9b:0:0:0:0:7f00:1', 'loopback'],
      ['64:FF9B:0000:0000:0000:0000:A9FE:A9FE', 'metadata'],
      ['0:0:0:0:0:ffff:7f00:1', 'loopback'],
      ['0:0:0:0:0:FFFF:10.0.0.1', 'private'],
      ['::ffff:0:7f00:1', 'reserved'],
      ['::ffff:0:127.0.0.1', 'reserved'],
    ] as const) {
      assert.equal(isPublicAddress(ip), false, ip);
      assert.equal(addressClass(ip), cls, ip);
    }
    for (const ip of ['64:ff9b:0:0:0:0:808:808', '0:0:0:0:0:ffff:808:808']) assert.equal(isPublicAddress(ip), true, ip);
  });

  test('attack: a NAT64 address (64:ff9b::/96) embedding 0.0.x.x, whose canonical text compresses into one group, is not public (unspecified)', () => {
    for (const ip of ['64:ff9b::', '64:ff9b::1', '64:ff9b::0.0.0.1', '64:ff9b::ffff', '64:ff9b:0:0:0:0:0:a', '64:FF9B::0.0.0.0']) {
      assert.equal(isPublicAddress(ip), false, ip);
      assert.equal(addressClass(ip), 'unspecified', ip);
    }
    assert.equal(forbiddenHostClass(new URL('http://[64:ff9b::1]/').hostname), 'unspecified');
    // an embedded public address whose high half is not zero stays public
    assert.equal(isPublicAddress('64:ff9b::100:1'), true);
  });

  test('a name answering a public and a private address is refused (target-forbidden, class of the private one), whichever comes first', async () => {
    for (const answer of [
      [{ address: '93.184.215.14', family: 4 }, { address: '127.0.0.1', family: 4 }],
      [{ address: '2606:4700::1111', family: 6 }, { address: '::ffff:169.254.169.254', family: 6 }],
    ] as LookupAddress[][]) {
      const lookup = publicOnlyLookupWith((_h, _o, cb) => cb(null, answer));
      for (const all of [false, true]) {
        const [err, got] = await new Promise<[unknown, unknown]>((resolve) => lookup('rebind.example', { all }, (e, a) => resolve([e, a])));
        assert.equal((err as { code?: string } | null)?.code, 'target-forbidden', JSON.stringify(answer));
        assert.equal((err as { addressClass?: string }).addressClass, answer[1]!.address === '127.0.0.1' ? 'loopback' : 'metadata');
        assert.deepEqual(got, []);
      }
    }
    // all public: passed through unchanged, the first for a single-address lookup
    const lookup = publicOnlyLookupWith((_h, _o, cb) => cb(null, [{ address: '93.184.215.14', family: 4 }, { address: '8.8.8.8', family: 4 }]));
    const one = await new Promise<unknown[]>((resolve) => lookup('ok.example', {}, (e, a, f) => resolve([e, a, f])));
    assert.deepEqual(one, [null, '93.184.215.14', 4]);
  });
});
