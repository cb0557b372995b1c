/**
 * The certificate inventory (`GET /v1/certificates`) answers a page at a time: `limit`
 * and `after` (the previous page's `next_after`). It had a limit (at most 1000, oldest
 * first) and no cursor, so with short-lived certificates the newest ones could never be
 * listed, and `portcullis cert list` silently showed the oldest 100.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AdminClient } from '../../src/cli/client.js';
import { CertificateList } from '../../src/http/admin/certificate-schemas.js';
import { startTestNode, type TestNode } from './node.js';

describe('admin API: certificate inventory pages', () => {
  let t: TestNode;
  const serials: string[] = [];
  before(async () => {
    t = await startTestNode();
    // issued within the same second: equal notBefore, so the serial orders them
    for (const n of [1, 2, 3, 4, 5]) {
      const r = await t.api('/v1/certificates', { body: { profile: 'server', dns_names: [`s${n}.example`] } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    serials.push(...CertificateList.parse((await t.api('/v1/certificates')).body).certificates.map((c) => c.serial));
  });
  after(() => t.close());

  test('limit=2 pages through every certificate once, in order; the last page has next_after null', async () => {
    assert.equal(serials.length, 5);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await t.api(`/v1/certificates?limit=2${cursor ? `&after=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const body = CertificateList.parse(r.body);
      seen.push(...body.certificates.map((c) => c.serial));
      cursor = body.next_after;
      pages++;
    } while (cursor !== null && pages < 10);
    assert.equal(pages, 3);
    assert.deepEqual(seen, serials);
  });

  test('a cursor that is not one → 400 request.invalid naming after', async () => {
    const r = await t.api('/v1/certificates?after=abc');
    assert.equal(r.status, 400);
    assert.equal(r.body.code, 'request.invalid');
    assert.deepEqual(r.body.errors.map((e: { path: string }) => e.path), ['after']);
  });

  test('attack: a cursor whose time is past Number.MAX_SAFE_INTEGER (16 digits, read as another number, so a page after another position) → 400 request.invalid naming after, as on the other lists; 2^53-1 itself is a cursor', async () => {
    for (const time of ['9007199254740992', '9007199254740993', '9999999999999999']) {
      const r = await t.api(`/v1/certificates?after=${time}.ab`);
      assert.equal(r.status, 400, `${time}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.code, 'request.invalid');
      assert.deepEqual(r.body.errors.map((e: { path: string }) => e.path), ['after'], time);
    }
    for (const cursor of ['1.5.ab', '1,5.ab', '-1.ab', '1e3.ab']) {
      const r = await t.api(`/v1/certificates?after=${encodeURIComponent(cursor)}`);
      assert.equal(r.status, 400, `${cursor}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.code, 'request.invalid');
    }
    const r = await t.api('/v1/certificates?after=9007199254740991.ab');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.certificates, []);
  });

  test('the CLI client follows the pages of a filtered list', async () => {
    const client = new AdminClient(t.admin, t.adminToken);
    assert.deepEqual((await client.listAll<{ serial: string }>('/v1/certificates?status=active', 'certificates', 2)).map((c) => c.serial), serials);
  });
});
