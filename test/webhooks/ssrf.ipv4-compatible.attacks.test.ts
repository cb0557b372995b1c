/**
 * Webhook SSRF through ::/8, which IANA's special-purpose registry marks reserved by the
 * IETF (RFC 4291 §2.4): the block list named only ::, ::1 and ::/96, so ::1:2:3 counted as
 * a public target, and a deprecated IPv4-compatible address (`::a9fe:a9fe`, RFC 4291
 * §2.5.5.1) embedding a cloud metadata address was only `reserved`, so
 * `webhooks.allowPrivateTargets` let it through where its IPv4-mapped form is refused.
 * An IPv4-compatible address is never public, whatever it embeds: no stack delivers it
 * to the embedded IPv4 host, so it is not that host's loopback either.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError } from '../../src/core/errors.js';
import { refusedPlainHttp } from '../../src/webhooks/plain-http.js';
import { addressClass, forbiddenHostClass, isPublicAddress, metadataClass, noMetadataLookupWith, publicOnlyLookupWith } from '../../src/webhooks/target.js';
import { newMasterKey, openDeps } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-ssrf-compat-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('attack: webhook targets in ::/8 (IPv4-compatible and other reserved forms)', () => {
  test('addresses in ::/8 outside ::/96 are not public (reserved)', () => {
    for (const ip of ['::1:2:3', '::1:0:0:0', '0:0:0:0:0:1:2:3', '0:ff:ffff:ffff:ffff:ffff:ffff:ffff', '0:1::1', '::fffe:1:1']) {
      assert.equal(isPublicAddress(ip), false, ip);
      assert.equal(addressClass(ip), 'reserved', ip);
    }
    // just past ::/8, and an IPv4-mapped public address, stay public
    assert.equal(isPublicAddress('100:1::1'), true);
    assert.equal(isPublicAddress('::ffff:8.8.8.8'), true);
  });

  test('an IPv4-compatible address is never public, and is reserved unless it embeds a metadata address', () => {
    for (const ip of ['::7f00:1', '::127.0.0.1', '0:0:0:0:0:0:7F00:1', '::a00:1', '::808:808', '::8.8.8.8']) {
      assert.equal(isPublicAddress(ip), false, ip);
      assert.equal(addressClass(ip), 'reserved', ip);
    }
    assert.equal(addressClass('::'), 'unspecified');
    assert.equal(addressClass('::1'), 'loopback');
    // not a loopback literal, so no plain http to it on the strength of "never leaves the host"
    assert.equal(refusedPlainHttp(new URL('http://[::7f00:1]/in'), false), true);
  });

  test('an IPv4-compatible form of a metadata address is metadata, as its IPv4-mapped form is', () => {
    for (const ip of ['::a9fe:a9fe', '::169.254.169.254', '0:0:0:0:0:0:A9FE:A9FE', '::a9fe:aa02', '::6464:64c8', '::a83f:8110', '::168.63.129.16']) {
      assert.equal(isPublicAddress(ip), false, ip);
      assert.equal(addressClass(ip), 'metadata', ip);
      assert.equal(metadataClass(ip), 'metadata', ip);
      assert.equal(forbiddenHostClass(new URL(`http://[${ip}]/`).hostname), 'metadata', ip);
    }
  });

  test('a subscription to an IPv4-compatible metadata literal is webhook.target-forbidden even with webhooks.allowPrivateTargets', async () => {
    const deps = await openDeps(`sqlite:${join(dir, 'sub.db')}`, newMasterKey(), new FrozenClock(Date.now()), 'ES256', undefined, true, true);
    try {
      for (const url of ['http://[::a9fe:a9fe]/latest/meta-data/', 'http://[::169.254.169.254]/', 'http://[0:0:0:0:0:0:a83f:8110]/machine/']) {
        await assert.rejects(deps.webhooks.subscribe({ url, events: ['*'] }, 'admin'), (e: unknown) => e instanceof PortcullisError && e.code === 'webhook.target-forbidden' && e.status === 400, url);
      }
      assert.deepEqual(await deps.webhooks.list(), []);
    } finally {
      await deps.store.close();
    }
    const strict = await openDeps(`sqlite:${join(dir, 'strict.db')}`, newMasterKey(), new FrozenClock(Date.now()), 'ES256', undefined, false, true);
    try {
      for (const url of ['https://[::1:2:3]/in', 'https://[::7f00:1]/in', 'https://[::808:808]/in']) {
        await assert.rejects(strict.webhooks.subscribe({ url, events: ['*'] }, 'admin'), (e: unknown) => e instanceof PortcullisError && e.code === 'webhook.target-forbidden', url);
      }
    } finally {
      await strict.store.close();
    }
  });

  test('a name resolving to an IPv4-compatible metadata or ::/8 address is refused when connecting (target-forbidden)', async () => {
    const cases: Array<[(r: Parameters<typeof noMetadataLookupWith>[0]) => ReturnType<typeof noMetadataLookupWith>, LookupAddress[], string]> = [
      [noMetadataLookupWith, [{ address: '::a9fe:a9fe', family: 6 }], 'metadata'],
      [noMetadataLookupWith, [{ address: '10.0.0.1', family: 4 }, { address: '::a83f:8110', family: 6 }], 'metadata'],
      [publicOnlyLookupWith, [{ address: '2606:4700::1111', family: 6 }, { address: '::1:2:3', family: 6 }], 'reserved'],
      [publicOnlyLookupWith, [{ address: '::7f00:1', family: 6 }], 'reserved'],
    ];
    for (const [make, answer, cls] of cases) {
      const lookup = make((_h, _o, cb) => cb(null, answer));
      const [err, got] = await new Promise<[unknown, unknown]>((resolve) => lookup('compat.example', { all: true }, (e, a) => resolve([e, a])));
      assert.equal((err as { code?: string } | null)?.code, 'target-forbidden', JSON.stringify(answer));
      assert.equal((err as { addressClass?: string }).addressClass, cls, JSON.stringify(answer));
      assert.deepEqual(got, []);
    }
  });
});
