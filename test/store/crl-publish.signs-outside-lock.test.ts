/**
 * A CRL is signed outside every store lock (CertificateStore.readCrlPublication, then
 * publishCrlIfUnchanged): while one node builds and signs a CRL (a long revocation list,
 * a slow HSM), revocations and another node's CRL publication go on; the slow node's
 * CRL is then refused (its read is stale) and it serves the one published meanwhile.
 * A signer held open on a promise the test controls shows it without timing: under a
 * lock the other writes would still wait when the signer is released. Runs on the
 * memory store, on two instances of one SQLite file and on two PostgreSQL nodes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificateList } from '@peculiar/asn1-x509';
import { FrozenClock } from '../../src/core/clock.js';
import { publishCrl, type CrlSigningCa } from '../../src/pki/crl.js';
import { createHierarchy } from '../../src/pki/hierarchy.js';
import { issueCertificate } from '../../src/pki/issue.js';
import { openIssuingCa, signingView } from '../../src/pki/issuing-ca.js';
import { MemoryCertificateStore } from '../../src/pki/memory-store.js';
import { revokeCertificate } from '../../src/pki/revoke.js';
import { SignerRegistry, fileSignerKind, type CaSigner } from '../../src/pki/signer.js';
import type { CertificateStore } from '../../src/pki/store.js';
import { openDurableStore } from '../../src/store/index.js';
import { openssl, testSecretBox } from '../pki/helpers.js';
import { createTempPostgresDatabase, serviceDescribe } from '../support/services.js';
import { rejectsWith } from './store-harness.js';

const URL_BASE = 'http://127.0.0.1:8080';
const DAY = 86_400_000;

/** `p`, or a failure naming `what` when it has not settled after `ms` (a write waiting on a lock). */
async function settlesWithin<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: still waiting after ${ms} ms while a CRL was being signed`)), ms)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A signer whose first signature waits until `release()`; `started` resolves when it is asked. */
function heldSigner(inner: CaSigner): { signer: CaSigner; started: Promise<void>; release: () => void; calls: () => number } {
  let calls = 0;
  let started!: () => void;
  const startedP = new Promise<void>((r) => (started = r));
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const signer = Object.create(inner) as CaSigner;
  Object.defineProperty(signer, 'sign', {
    value: async (data: Uint8Array): Promise<Uint8Array> => {
      if (calls++ === 0) {
        started();
        await gate;
      }
      return inner.sign(data);
    },
  });
  return { signer, started: startedP, release, calls: () => calls };
}

function crlSerials(der: Uint8Array): string[] {
  const list = AsnConvert.parse(der, CertificateList);
  return (list.tbsCertList.revokedCertificates ?? []).map((r) => Buffer.from(r.userCertificate).toString('hex'));
}

async function setup(a: CertificateStore, b: CertificateStore) {
  const clock = new FrozenClock(Date.now());
  const kind = fileSignerKind(testSecretBox());
  await createHierarchy({ store: a, signerKind: kind, clock, urlBase: URL_BASE, trustDomain: 'example.org' });
  const ca = await openIssuingCa(b, new SignerRegistry([kind]), URL_BASE);
  return { clock, ca, view: signingView(ca), ctx: { store: b, clock, ca, trustDomain: 'example.org' } };
}

/**
 * Node A signs a CRL with a held signer; meanwhile a certificate is revoked on node A and
 * node B publishes a CRL. Neither waits for A's signature.
 */
async function signingHoldsNoLock(a: CertificateStore, b: CertificateStore): Promise<void> {
  const { clock, view, ctx } = await setup(a, b);
  const c = await issueCertificate(ctx, { profile: 'client', clientId: 'app-1' });
  const held = heldSigner(view.signer);
  const slow = publishCrl(a, clock, { ...view, signer: held.signer }, DAY);
  let other;
  try {
    await settlesWithin(held.started, 10_000, 'the slow CRL build');
    await settlesWithin(revokeCertificate({ store: a, clock }, c.serial, 'keyCompromise'), 5_000, 'a revocation on the same node');
    other = await settlesWithin(publishCrl(b, clock, view, DAY), 5_000, 'a CRL publication on another node');
  } finally {
    held.release();
  }
  const mine = await slow;
  // A's CRL (read before the revocation) is refused; A serves the one B published
  assert.equal(held.calls(), 1, 'nothing changed after the retry read: A keeps the published CRL, signing nothing more');
  assert.equal(mine.number, other.number);
  assert.deepEqual(mine.der, other.der);
  assert.deepEqual(crlSerials(mine.der), [c.serial]);
  const p = await publishCrl(a, clock, view, DAY);
  assert.equal(p.number, other.number, 'the published CRL is B\'s');
}

/** A revocation lands while every signature is made: the publisher gives up after its tries, typed, publishing nothing stale. */
async function contendedGivesUp(a: CertificateStore, b: CertificateStore): Promise<void> {
  const { clock, view, ctx } = await setup(a, b);
  const first = await publishCrl(a, clock, view, DAY);
  const victims = await Promise.all(Array.from({ length: 8 }, (_, i) => issueCertificate(ctx, { profile: 'client', clientId: `app-${i}` })));
  await revokeCertificate({ store: b, clock }, victims[0]!.serial, 'keyCompromise');
  let signs = 0;
  const signer = Object.create(view.signer) as CaSigner;
  Object.defineProperty(signer, 'sign', {
    value: async (data: Uint8Array): Promise<Uint8Array> => {
      await revokeCertificate({ store: b, clock }, victims[++signs]!.serial, 'superseded');
      return view.signer.sign(data);
    },
  });
  await rejectsWith(publishCrl(a, clock, { ...view, signer } satisfies CrlSigningCa, DAY), 'pki.crl-contended');
  assert.equal(signs, 5, 'five tries, each signed, each refused');
  const after = await publishCrl(b, clock, view, DAY);
  assert.equal(after.number, first.number + 1n, 'no refused CRL took a number');
  assert.deepEqual(crlSerials(after.der).sort(), victims.slice(0, 6).map((v) => v.serial).sort());
  const text = openssl(['crl', '-inform', 'DER', '-noout', '-text'], after.der);
  assert.equal(text.status, 0, text.out);
  assert.match(text.out, new RegExp(`X509v3 CRL Number: \\n\\s+${after.number}`));
}

async function onSqlite(fn: (a: CertificateStore, b: CertificateStore) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-pki-'));
  const a = await openDurableStore(`sqlite:${join(dir, 'ca.db')}`);
  const b = await openDurableStore(`sqlite:${join(dir, 'ca.db')}`);
  try {
    await fn(a, b);
  } finally {
    await a.close();
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('memory: while a CRL is signed, a revocation and another publication do not wait; the slow signer then serves the CRL published meanwhile', async () => {
  const s = new MemoryCertificateStore();
  await signingHoldsNoLock(s, s);
});

test('memory: a revocation during every signature — publishCrl gives up with pki.crl-contended after five tries, publishing nothing', async () => {
  const s = new MemoryCertificateStore();
  await contendedGivesUp(s, s);
});

test('sqlite: while a CRL is signed, a revocation on the node and a publication by another process on the file do not wait for the write lock', async () => {
  await onSqlite(signingHoldsNoLock);
});

test('sqlite: a revocation during every signature — pki.crl-contended after five tries, publishing nothing', async () => {
  await onSqlite(contendedGivesUp);
});

await serviceDescribe('postgres', 'CRL publication on PostgreSQL', () => {
  const onPostgres = async (fn: (a: CertificateStore, b: CertificateStore) => Promise<void>): Promise<void> => {
    const db = await createTempPostgresDatabase();
    const a = await openDurableStore(db.url);
    const b = await openDurableStore(db.url);
    try {
      await fn(a, b);
    } finally {
      await a.close();
      await b.close();
      await db.drop();
    }
  };
  test('postgres: while a CRL is signed on one node, another node publishes without waiting for the CRL number row lock', async () => {
    await onPostgres(signingHoldsNoLock);
  });
  test('postgres: a revocation during every signature — pki.crl-contended after five tries, publishing nothing', async () => {
    await onPostgres(contendedGivesUp);
  });
});
