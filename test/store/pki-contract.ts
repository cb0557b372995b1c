/**
 * The CertificateStore contract (src/pki/store.ts) for every adapter: memory, SQLite,
 * PostgreSQL. Race tests run on two instances where the adapter has nodes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { CaRecord, CertificateRecord, CertificateStore, PublishedCrl, RevocationReason } from '../../src/pki/store.js';
import { rejectsWith, storeTests, twoNodes, type StoreHarness } from './store-harness.js';

const T0 = 1_700_000_000_000;
const DAY = 86_400_000;

/** Bytes with NULs and high bytes at both ends, so a text round trip would show. */
function der(): Uint8Array {
  return new Uint8Array([0x30, 0x82, 0x00, 0xff, ...randomBytes(200), 0x00, 0x80]);
}

function cert(serial: string, over: Partial<CertificateRecord> = {}): CertificateRecord {
  return {
    serial,
    issuerId: 'int-1',
    subject: `CN=${serial}.example.org`,
    owner: null,
    profile: 'server',
    notBefore: T0,
    notAfter: T0 + 90 * DAY,
    status: 'active',
    revokedAt: null,
    reason: null,
    der: der(),
    ...over,
  };
}

function ca(id: string, over: Partial<CaRecord> = {}): CaRecord {
  return { id, role: 'intermediate', certDer: der(), signerKind: 'file', keyRef: `v1.sealed-pkcs8-of-${id}`, active: false, createdAt: T0, ...over };
}

const bySerial = (a: CertificateRecord, b: CertificateRecord): number => (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0);

export function runCertificateStoreSuite(name: string, make: () => Promise<StoreHarness<CertificateStore>>): void {
  const t = storeTests(`${name} certificates`, make);

  t('insert and get round-trip every field, DER byte for byte', async (open) => {
    const s = await open();
    const server = cert('0a1b2c');
    const client = cert('ff00', { owner: 'app-1', profile: 'client', status: 'revoked', revokedAt: T0 + 5, reason: 'keyCompromise' });
    await s.insertCertificate(server);
    await s.insertCertificate(client);
    assert.deepEqual(await s.getCertificate('0a1b2c'), server);
    assert.deepEqual(await s.getCertificate('ff00'), client);
    const got = (await s.getCertificate('0a1b2c'))!;
    assert.ok(got.der instanceof Uint8Array);
    assert.equal(typeof got.notAfter, 'number');
    assert.equal(await s.getCertificate('0a1b2d'), undefined);
  });

  t('lineage: renewedFrom round-trips and filters the certificates renewed from a serial', async (open) => {
    const s = await open();
    await s.insertCertificate(cert('a1'));
    const b = cert('b2', { renewedFrom: 'a1' });
    await s.insertCertificate(b);
    await s.insertCertificate(cert('c3', { renewedFrom: 'b2' }));
    assert.deepEqual(await s.getCertificate('b2'), b);
    assert.deepEqual((await s.listCertificates({ renewedFrom: 'a1' })).map((c) => c.serial), ['b2']);
    assert.deepEqual((await s.listCertificates({ renewedFrom: 'b2' })).map((c) => c.serial), ['c3']);
    assert.deepEqual(await s.listCertificates({ renewedFrom: 'c3' }), []);
  });

  t('a duplicate serial is a conflict and keeps the first record', async (open) => {
    const s = await open();
    const first = cert('01');
    await s.insertCertificate(first);
    await rejectsWith(s.insertCertificate(cert('01', { subject: 'CN=impostor', owner: 'app-evil' })), 'conflict');
    assert.deepEqual(await s.getCertificate('01'), first);
  });

  t('list filters by owner, status, issuer and expiry (strictly before), ordered by notBefore then serial, with limit', async (open) => {
    const s = await open();
    const c1 = cert('c1', { notBefore: T0 + 2, notAfter: T0 + 10 * DAY, owner: 'app-1', profile: 'client' });
    const c2 = cert('c2', { notBefore: T0 + 1, notAfter: T0 + 20 * DAY, owner: 'app-2', profile: 'client' });
    const c3 = cert('c3', { notBefore: T0 + 3, notAfter: T0 + 30 * DAY, issuerId: 'int-2' });
    const c0 = cert('c0', { notBefore: T0 + 2, notAfter: T0 + 10 * DAY, owner: 'app-1', profile: 'client', status: 'revoked', revokedAt: T0 + 4, reason: 'superseded' });
    for (const c of [c3, c1, c2, c0]) await s.insertCertificate(c);
    assert.deepEqual(await s.listCertificates(), [c2, c0, c1, c3]);
    assert.deepEqual(await s.listCertificates({}), [c2, c0, c1, c3]);
    assert.deepEqual(await s.listCertificates({ owner: 'app-1' }), [c0, c1]);
    assert.deepEqual(await s.listCertificates({ owner: 'app-1', status: 'active' }), [c1]);
    assert.deepEqual(await s.listCertificates({ status: 'revoked' }), [c0]);
    assert.deepEqual(await s.listCertificates({ issuerId: 'int-2' }), [c3]);
    assert.deepEqual(await s.listCertificates({ expiringBefore: T0 + 20 * DAY }), [c0, c1]);
    assert.deepEqual(await s.listCertificates({ expiringBefore: T0 + 20 * DAY + 1 }), [c2, c0, c1]);
    assert.deepEqual(await s.listCertificates({ limit: 2 }), [c2, c0]);
    assert.deepEqual(await s.listCertificates({ issuerId: 'int-1', status: 'active', limit: 1 }), [c2]);
    assert.deepEqual(await s.listCertificates({ owner: 'nobody' }), []);
    assert.deepEqual(await s.listCertificates({ limit: 0 }), []);
    // A negative limit means "no limit" to SQLite and an error to PostgreSQL: refused on every adapter.
    await rejectsWith(s.listCertificates({ limit: -1 }), 'request.invalid');
    await rejectsWith(s.listCertificates({ limit: 1.5 }), 'request.invalid');
  });

  t('list after a (notBefore, serial) cursor continues in list order, ties broken by serial', async (open) => {
    const s = await open();
    const c1 = cert('c1', { notBefore: T0 + 2 });
    const c2 = cert('c2', { notBefore: T0 + 1 });
    const c3 = cert('c3', { notBefore: T0 + 3 });
    const c0 = cert('c0', { notBefore: T0 + 2, owner: 'app-1', profile: 'client' });
    for (const c of [c3, c1, c2, c0]) await s.insertCertificate(c);
    assert.deepEqual(await s.listCertificates({ after: { notBefore: T0 + 1, serial: 'c2' } }), [c0, c1, c3]);
    assert.deepEqual(await s.listCertificates({ after: { notBefore: T0 + 2, serial: 'c0' }, limit: 1 }), [c1]);
    assert.deepEqual(await s.listCertificates({ after: { notBefore: T0 + 2, serial: 'c1' } }), [c3]);
    assert.deepEqual(await s.listCertificates({ after: { notBefore: T0 + 2, serial: 'c0' }, owner: 'app-1' }), []);
    assert.deepEqual(await s.listCertificates({ after: { notBefore: T0 + 3, serial: 'c3' } }), []);
  });

  t('revoke sets status, time and reason once; a second revoke, or an unknown serial, gets undefined', async (open) => {
    const s = await open();
    const c = cert('aa');
    await s.insertCertificate(c);
    const revoked = { ...c, status: 'revoked' as const, revokedAt: T0 + 100, reason: 'keyCompromise' as const };
    assert.deepEqual(await s.revokeCertificate('aa', T0 + 100, 'keyCompromise'), revoked);
    assert.deepEqual(await s.getCertificate('aa'), revoked);
    // A later revocation must not rewrite the date or reason the CRL already published.
    assert.equal(await s.revokeCertificate('aa', T0 + 200, 'superseded'), undefined);
    assert.deepEqual(await s.getCertificate('aa'), revoked);
    assert.equal(await s.revokeCertificate('bb', T0, 'unspecified'), undefined);
    assert.equal(await s.getCertificate('bb'), undefined);
  });

  t('listRevoked returns the revoked certificates of one issuer only, expired ones included', async (open) => {
    const s = await open();
    await s.insertCertificate(cert('01'));
    await s.insertCertificate(cert('02', { notAfter: T0 - DAY }));
    await s.insertCertificate(cert('03'));
    await s.insertCertificate(cert('04', { issuerId: 'int-2' }));
    await s.revokeCertificate('03', T0 + 1, 'superseded');
    await s.revokeCertificate('02', T0 + 2, 'cessationOfOperation');
    await s.revokeCertificate('04', T0 + 3, 'keyCompromise');
    const list = (await s.listRevoked('int-1')).sort(bySerial);
    assert.deepEqual(list.map((r) => [r.serial, r.status, r.revokedAt, r.reason]), [
      ['02', 'revoked', T0 + 2, 'cessationOfOperation'],
      ['03', 'revoked', T0 + 1, 'superseded'],
    ]);
    assert.deepEqual((await s.listRevoked('int-2')).map((r) => r.serial), ['04']);
    assert.deepEqual(await s.listRevoked('int-3'), []);
  });

  t('revoke race — 24 concurrent revocations (two nodes when supported) of one serial: exactly one caller wins', async (open, h) => {
    const [a, b] = await twoNodes(open, h);
    await a.insertCertificate(cert('dead'));
    const reasons: RevocationReason[] = ['keyCompromise', 'superseded', 'affiliationChanged'];
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => (i % 2 ? a : b).revokeCertificate('dead', T0 + i, reasons[i % 3]!)));
    const winners = results.filter((r) => r !== undefined);
    assert.equal(winners.length, 1);
    const stored = await b.getCertificate('dead');
    assert.deepEqual(stored, winners[0]);
    assert.equal(stored!.status, 'revoked');
  });

  t('CRL numbers start at 1 and increase by one, independently per CA', async (open) => {
    const s = await open();
    assert.equal(await s.nextCrlNumber('int-1'), 1n);
    assert.equal(await s.nextCrlNumber('int-1'), 2n);
    assert.equal(await s.nextCrlNumber('int-2'), 1n);
    assert.equal(await s.nextCrlNumber('int-1'), 3n);
    assert.equal(typeof (await s.nextCrlNumber('int-2')), 'bigint');
  });

  t('CRL number race — 40 concurrent draws (two nodes when supported) never repeat a number and leave no gap', async (open, h) => {
    const [a, b] = await twoNodes(open, h);
    const got = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).nextCrlNumber('int-1')));
    const sorted = [...got].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    assert.deepEqual(sorted, Array.from({ length: 40 }, (_, i) => BigInt(i + 1)));
    // Both nodes continue from the shared counter, not from one of their own.
    assert.equal(await b.nextCrlNumber('int-1'), 41n);
    assert.equal(await a.nextCrlNumber('int-1'), 42n);
  });

  t('crlSnapshot draws the next CRL number with the issuer\'s revoked certificates, on the counter nextCrlNumber uses', async (open) => {
    const s = await open();
    await s.insertCertificate(cert('01'));
    await s.insertCertificate(cert('02', { issuerId: 'int-2' }));
    await s.revokeCertificate('01', T0 + 1, 'keyCompromise');
    await s.revokeCertificate('02', T0 + 2, 'superseded');
    assert.equal(await s.nextCrlNumber('int-1'), 1n);
    const snap = await s.crlSnapshot('int-1');
    assert.equal(snap.number, 2n);
    assert.deepEqual(snap.revoked.map((r) => [r.serial, r.status, r.reason]), [['01', 'revoked', 'keyCompromise']]);
    assert.equal((await s.crlSnapshot('int-3')).number, 1n);
    assert.deepEqual((await s.crlSnapshot('int-3')).revoked, []);
  });

  const crl = (n: bigint, digest: string): PublishedCrl => ({ number: n, thisUpdate: T0 + Number(n), nextUpdate: T0 + DAY, entriesDigest: digest, der: der() });

  t('readCrlPublication / publishCrlIfUnchanged: the first CRL is numbered above the counter, the next takes the next number (per CA); a CRL not numbered next is internal', async (open) => {
    const s = await open();
    await s.insertCertificate(cert('01'));
    await s.revokeCertificate('01', T0 + 1, 'keyCompromise');
    assert.equal(await s.nextCrlNumber('int-1'), 1n); // a number the previous version drew
    const r1 = await s.readCrlPublication('int-1');
    assert.equal(r1.published, undefined);
    assert.equal(r1.next, 2n);
    assert.deepEqual(r1.revoked.map((r) => [r.serial, r.reason]), [['01', 'keyCompromise']]);
    const first = crl(r1.next, 'a');
    assert.equal(await s.publishCrlIfUnchanged('int-1', r1, first), true);
    const r2 = await s.readCrlPublication('int-1');
    assert.deepEqual(r2.published, first);
    assert.equal(r2.next, 3n);
    await rejectsWith(s.publishCrlIfUnchanged('int-1', r2, crl(r2.next + 1n, 'd')), 'internal');
    assert.deepEqual((await s.readCrlPublication('int-1')).published, first, 'a refused publication changes nothing');
    assert.equal(await s.publishCrlIfUnchanged('int-1', r2, crl(3n, 'b')), true);
    assert.equal(await s.nextCrlNumber('int-1'), 4n, 'publishing moves the counter');
    const other = await s.readCrlPublication('int-2');
    assert.deepEqual([other.published, other.next, other.revoked], [undefined, 1n, []]);
    assert.equal(await s.publishCrlIfUnchanged('int-2', other, crl(1n, 'c')), true);
  });

  t('publishCrlIfUnchanged refuses a CRL built from a stale read, changing nothing: a CRL number drawn, a CRL published, a certificate revoked since', async (open, h) => {
    const [a, b] = await twoNodes(open, h);
    await a.insertCertificate(cert('01'));
    await a.insertCertificate(cert('02'));
    await a.insertCertificate(cert('03', { issuerId: 'int-2' }));
    const base = await a.readCrlPublication('int-1');
    assert.equal(await a.publishCrlIfUnchanged('int-1', base, crl(base.next, 'base')), true);
    const published = (await a.readCrlPublication('int-1')).published;

    const drawn = await a.readCrlPublication('int-1');
    await b.nextCrlNumber('int-1');
    assert.equal(await a.publishCrlIfUnchanged('int-1', drawn, crl(drawn.next, 'x')), false, 'a CRL number was drawn (crlSnapshot, a one-off CRL)');

    const raced = await a.readCrlPublication('int-1');
    assert.equal(await b.publishCrlIfUnchanged('int-1', raced, crl(raced.next, 'other node')), true);
    assert.equal(await a.publishCrlIfUnchanged('int-1', raced, crl(raced.next, 'x')), false, 'another node published');

    const stale = await a.readCrlPublication('int-1');
    await b.revokeCertificate('02', T0 + 2, 'superseded');
    assert.equal(await a.publishCrlIfUnchanged('int-1', stale, crl(stale.next, 'x')), false, 'a certificate was revoked');
    const now = await a.readCrlPublication('int-1');
    assert.equal(now.next, stale.next);
    assert.notDeepEqual(now.published, published);
    assert.equal(now.published!.entriesDigest, 'other node', 'the refused ones changed nothing');

    await b.revokeCertificate('03', T0 + 3, 'superseded');
    assert.equal(await a.publishCrlIfUnchanged('int-1', now, crl(now.next, 'fresh')), true, 'a revocation of another CA does not matter');
  });

  t('publishCrlIfUnchanged race — 12 publications of one read (two nodes when supported): exactly one passes', async (open, h) => {
    const [a, b] = await twoNodes(open, h);
    const read = await a.readCrlPublication('int-1');
    const got = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).publishCrlIfUnchanged('int-1', read, crl(read.next, String(i)))));
    assert.equal(got.filter(Boolean).length, 1);
    const winner = got.indexOf(true);
    assert.equal((await b.readCrlPublication('int-1')).published!.entriesDigest, String(winner));
  });

  t('publishCrlIfUnchanged race — 20 publishers (two nodes when supported) read and publish until a try passes: numbers 1..20, no repeat, no gap, each built on the CRL before it', async (open, h) => {
    const [a, b] = await twoNodes(open, h);
    const passed: Array<[bigint | undefined, bigint]> = [];
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const s = i % 2 ? a : b;
        for (let tries = 0; tries < 500; tries++) {
          const read = await s.readCrlPublication('int-1');
          await new Promise((r) => setTimeout(r, 1));
          if (await s.publishCrlIfUnchanged('int-1', read, crl(read.next, String(i)))) return void passed.push([read.published?.number, read.next]);
        }
        assert.fail(`publisher ${i} never passed`);
      }),
    );
    const numbers = passed.map(([, n]) => n).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    assert.deepEqual(numbers, Array.from({ length: 20 }, (_, i) => BigInt(i + 1)));
    for (const [before, n] of passed) assert.equal(before, n === 1n ? undefined : n - 1n, `CRL ${n} was built on CRL ${before}`);
    const last = await a.readCrlPublication('int-1');
    assert.deepEqual(last.published, (await b.readCrlPublication('int-1')).published);
    assert.equal(last.published!.number, 20n);
  });

  t('CA records: insert, get and list round-trip (offline key as null); duplicate id is a conflict', async (open) => {
    const s = await open();
    const root = ca('root-1', { role: 'root', keyRef: null, active: true, createdAt: T0 });
    const int = ca('int-1', { createdAt: T0 + 1 });
    await s.insertCa(int);
    await s.insertCa(root);
    assert.deepEqual(await s.getCa('root-1'), root);
    assert.deepEqual(await s.getCa('int-1'), int);
    assert.equal(await s.getCa('int-9'), undefined);
    assert.deepEqual(await s.listCas(), [root, int]);
    assert.ok((await s.getCa('int-1'))!.certDer instanceof Uint8Array);
    await rejectsWith(s.insertCa(ca('int-1', { keyRef: 'v1.attacker-key', active: true })), 'conflict');
    assert.deepEqual(await s.getCa('int-1'), int);
  });

  t('activateCa leaves exactly one active CA of its role and does not touch the other role; unknown id is pki.ca-not-found', async (open) => {
    const s = await open();
    await s.insertCa(ca('root-1', { role: 'root', active: true }));
    await s.insertCa(ca('int-1', { active: true, createdAt: T0 + 1 }));
    await s.insertCa(ca('int-2', { createdAt: T0 + 2 }));
    await s.activateCa('int-2');
    const active = async (): Promise<string[]> => (await s.listCas()).filter((c) => c.active).map((c) => c.id);
    assert.deepEqual(await active(), ['root-1', 'int-2']);
    await s.activateCa('int-2');
    assert.deepEqual(await active(), ['root-1', 'int-2']);
    await s.activateCa('int-1');
    assert.deepEqual(await active(), ['root-1', 'int-1']);
    await rejectsWith(s.activateCa('int-9'), 'pki.ca-not-found');
    assert.deepEqual(await active(), ['root-1', 'int-1']);
  });

  t('activateCa race — two nodes activating different intermediates at once end with exactly one active', async (open, h) => {
    const [a, b] = await twoNodes(open, h);
    for (let i = 0; i < 4; i++) await a.insertCa(ca(`int-${i}`, { createdAt: T0 + i }));
    await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).activateCa(`int-${i % 4}`)));
    assert.equal((await b.listCas()).filter((c) => c.active).length, 1);
  });

  t('setCaKeyRef brings an offline key online and takes it offline again; unknown id is pki.ca-not-found', async (open) => {
    const s = await open();
    const root = ca('root-1', { role: 'root', keyRef: null });
    await s.insertCa(root);
    await s.setCaKeyRef('root-1', 'v1.sealed-online');
    assert.deepEqual(await s.getCa('root-1'), { ...root, keyRef: 'v1.sealed-online' });
    await s.setCaKeyRef('root-1', null);
    assert.deepEqual(await s.getCa('root-1'), root);
    await rejectsWith(s.setCaKeyRef('root-9', 'v1.x'), 'pki.ca-not-found');
    assert.equal(await s.getCa('root-9'), undefined);
  });
}
