/**
 * Webhook SSRF, cloud platform endpoints outside the special-use ranges: Azure's
 * WireServer, 168.63.129.16, is a public address that only Azure VMs reach, and
 * answers them with the platform's view of the VM (goal state, extension settings,
 * health, DNS). A webhook on an Azure node must not go there any more than to
 * 169.254.169.254. GCP's metadata server on IPv6-only VMs, fd20:ce::254, was refused
 * as unique-local already; it is audited as `metadata`, as AWS's fd00:ec2::254 is.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError } from '../../src/core/errors.js';
import { addressClass, forbiddenHostClass, isPublicAddress, publicOnlyLookupWith } from '../../src/webhooks/target.js';
import { newMasterKey, openDeps } from './helpers.js';

describe('webhook targets: cloud platform endpoints', () => {
  test('attack: Azure WireServer 168.63.129.16, in any form, is not public (metadata); its neighbours stay public', () => {
    for (const ip of ['168.63.129.16', '::ffff:168.63.129.16', '0:0:0:0:0:FFFF:A83F:8110', '64:ff9b::a83f:8110']) {
      assert.equal(isPublicAddress(ip), false, ip);
      assert.equal(addressClass(ip), 'metadata', ip);
    }
    for (const url of ['http://168.63.129.16/machine/?comp=goalstate', 'http://2822734096:32526/', 'http://0250.077.0201.020/', 'http://[::ffff:a83f:8110]/']) {
      assert.equal(forbiddenHostClass(new URL(url).hostname), 'metadata', url);
    }
    for (const ip of ['168.63.129.15', '168.63.129.17', '168.63.128.16']) assert.equal(isPublicAddress(ip), true, ip);
  });

  test('GCP metadata over IPv6 (fd20:ce::254) is audited as metadata, not private', () => {
    assert.equal(isPublicAddress('fd20:ce::254'), false);
    assert.equal(addressClass('fd20:ce::254'), 'metadata');
    assert.equal(addressClass('FD20:00CE:0:0:0:0:0:0254'), 'metadata');
    assert.equal(addressClass('fd20:ce::253'), 'private');
  });

  test('attack: a name resolving to 168.63.129.16 is refused at connect time (target-forbidden, metadata)', async () => {
    const answer: LookupAddress[] = [{ address: '168.63.129.16', family: 4 }];
    const lookup = publicOnlyLookupWith((_h, _o, cb) => cb(null, answer));
    for (const all of [false, true]) {
      const [err, got] = await new Promise<[unknown, unknown]>((resolve) => lookup('wireserver.example', { all }, (e, a) => resolve([e, a])));
      assert.equal((err as { code?: string } | null)?.code, 'target-forbidden');
      assert.equal((err as { addressClass?: string }).addressClass, 'metadata');
      assert.deepEqual(got, []);
    }
  });

  test('attack: a subscription to 168.63.129.16 is webhook.target-forbidden', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-ssrf-cloud-'));
    const deps = await openDeps(`sqlite:${join(dir, 'sub.db')}`, newMasterKey(), new FrozenClock(Date.now()), 'ES256', undefined, false);
    try {
      for (const url of ['https://168.63.129.16/machine/?comp=goalstate', 'https://[::ffff:168.63.129.16]:32526/']) {
        await assert.rejects(deps.webhooks.subscribe({ url, events: ['*'] }, 'admin'), (e: unknown) => e instanceof PortcullisError && e.code === 'webhook.target-forbidden' && e.status === 400, url);
      }
      assert.deepEqual(await deps.webhooks.list(), []);
    } finally {
      await deps.store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
