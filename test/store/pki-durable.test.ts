/**
 * The CA on the durable store, as two nodes see it: one node creates the hierarchy,
 * the other loads the CA from the database and issues; a revocation on one node is in
 * the CRL the other builds, and CRL numbers from both nodes never repeat (RFC 5280
 * §5.2.3). Runs on a SQLite file and, when reachable, on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FrozenClock } from '../../src/core/clock.js';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificateList } from '@peculiar/asn1-x509';
import { CrlPublisher, buildCrl } from '../../src/pki/crl.js';
import { createHierarchy } from '../../src/pki/hierarchy.js';
import { issueCertificate } from '../../src/pki/issue.js';
import { openIssuingCa, signingView } from '../../src/pki/issuing-ca.js';
import { revokeCertificate } from '../../src/pki/revoke.js';
import { SignerRegistry, fileSignerKind } from '../../src/pki/signer.js';
import { openDurableStore, type DurableStore } from '../../src/store/index.js';
import { openssl, testSecretBox } from '../pki/helpers.js';
import { createTempPostgresDatabase, serviceDescribe } from '../support/services.js';
import { rejectsWith } from './store-harness.js';

const URL_BASE = 'http://127.0.0.1:8080';

async function twoNodesShareOneCa(a: DurableStore, b: DurableStore): Promise<void> {
  const clock = new FrozenClock(Date.now());
  const box = testSecretBox();
  const kind = fileSignerKind(box);
  const signers = new SignerRegistry([kind]);
  const h = await createHierarchy({ store: a, signerKind: kind, clock, urlBase: URL_BASE, trustDomain: 'example.org' });

  // Node B knows nothing but the database and the master key (the SecretBox).
  const caB = await openIssuingCa(b, signers, URL_BASE);
  assert.equal(caB.record.id, h.intermediate.id);
  const caA = await openIssuingCa(a, signers, URL_BASE);
  const issued = await issueCertificate({ store: b, clock, ca: caB, trustDomain: 'example.org' }, { profile: 'client', clientId: 'app-1' });
  const seenByA = await a.getCertificate(issued.serial);
  assert.deepEqual(seenByA?.der, issued.der);
  assert.equal(seenByA?.owner, 'app-1');

  const crlA = new CrlPublisher(a, clock, signingView(caA));
  const crlB = new CrlPublisher(b, clock, signingView(caB));
  const first = await crlB.get();
  clock.advance(1000);
  await revokeCertificate({ store: a, clock, crls: new Map([[caA.record.id, crlA]]) }, issued.serial, 'keyCompromise');
  // The other node learns of it through the database, not through node A's memory.
  await rejectsWith(revokeCertificate({ store: b, clock }, issued.serial, 'superseded'), 'conflict');
  const fromB = await crlB.regenerate();
  const fromA = await crlA.get();
  assert.ok(fromA.number > first.number, `CRL ${fromA.number} after the revocation, ${first.number} before`);
  // one CRL per issuer for the whole cluster: the same number and the same bytes on either node
  assert.equal(fromB.number, fromA.number);
  assert.deepEqual(fromB.der, fromA.der);
  // rebuilding with nothing changed publishes nothing new; once due, the next one is numbered higher
  for (let i = 0; i < 4; i++) assert.equal((await (i % 2 ? crlA : crlB).regenerate()).number, fromA.number);
  clock.advance(crlA.validityMs / 2);
  const dueOnB = await crlB.get();
  assert.ok(dueOnB.number > fromA.number, `CRL ${dueOnB.number} once due, ${fromA.number} before`);
  assert.deepEqual((await crlA.get()).der, dueOnB.der);
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-crl-'));
  try {
    writeFileSync(join(dir, 'b.crl'), fromB.der);
    const text = openssl(['crl', '-inform', 'DER', '-in', join(dir, 'b.crl'), '-noout', '-text']);
    assert.equal(text.status, 0, text.out);
    assert.match(text.out, new RegExp(`X509v3 CRL Number: \\n\\s+${fromB.number}`));
    assert.match(text.out, new RegExp(issued.serial.toUpperCase()));
    assert.match(text.out, /Key Compromise/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The serials a CRL lists (hex, as the inventory keeps them). */
function crlSerials(der: Uint8Array): Set<string> {
  const list = AsnConvert.parse(der, CertificateList);
  return new Set((list.tbsCertList.revokedCertificates ?? []).map((r) => Buffer.from(r.userCertificate).toString('hex')));
}

/**
 * Node A is descheduled after its first store call of a CRL build (a GC pause, a slow
 * network): while it waits, node B builds a CRL and then a revocation commits.
 */
async function rebuildRace(a: DurableStore, b: DurableStore): Promise<void> {
  const clock = new FrozenClock(Date.now());
  const kind = fileSignerKind(testSecretBox());
  const h = await createHierarchy({ store: a, signerKind: kind, clock, urlBase: URL_BASE, trustDomain: 'example.org' });
  const ca = await openIssuingCa(b, new SignerRegistry([kind]), URL_BASE);
  const ctx = { store: b, clock, ca, trustDomain: 'example.org' };
  const early = await issueCertificate(ctx, { profile: 'client', clientId: 'app-1' });
  const late = await issueCertificate(ctx, { profile: 'client', clientId: 'app-2' });
  await revokeCertificate({ store: b, clock }, early.serial, 'keyCompromise');

  let calls = 0;
  let paused!: () => void;
  const pausedAt = new Promise<void>((r) => (paused = r));
  let resume!: () => void;
  const gate = new Promise<void>((r) => (resume = r));
  const slowA = new Proxy(a, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return async (...args: unknown[]) => {
        if (calls++ > 0) {
          paused();
          await gate;
        }
        return (v as (...x: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const fromA = buildCrl(slowA, clock, signingView(ca), 86_400_000);
  await Promise.race([pausedAt, fromA]);
  const fromB = await buildCrl(b, clock, signingView(ca), 86_400_000);
  await revokeCertificate({ store: b, clock }, late.serial, 'superseded');
  resume();
  const crlA = await fromA;
  const [lower, higher] = crlA.number < fromB.number ? [crlA, fromB] : [fromB, crlA];
  assert.notEqual(crlA.number, fromB.number);
  assert.equal(h.intermediate.id, ca.record.id);
  const below = crlSerials(lower.der);
  const above = crlSerials(higher.der);
  assert.ok(below.has(early.serial) && above.has(early.serial), 'both CRLs list the revocation committed before either was built');
  for (const serial of below) assert.ok(above.has(serial), `CRL ${higher.number} lacks ${serial}, which the lower-numbered CRL ${lower.number} lists`);
}

test('sqlite: two nodes rebuild a CRL at once — a higher CRL number never comes from an older read of the revocations', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-pki-'));
  const a = await openDurableStore(`sqlite:${join(dir, 'ca.db')}`);
  const b = await openDurableStore(`sqlite:${join(dir, 'ca.db')}`);
  try {
    await rebuildRace(a, b);
  } finally {
    await a.close();
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sqlite: two store instances share one CA — issue on one, revoke on the other, either node serves the one published CRL, which lists it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-pki-'));
  const a = await openDurableStore(`sqlite:${join(dir, 'ca.db')}`);
  const b = await openDurableStore(`sqlite:${join(dir, 'ca.db')}`);
  try {
    await twoNodesShareOneCa(a, b);
  } finally {
    await a.close();
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

await serviceDescribe('postgres', 'CA on PostgreSQL', () => {
  test('postgres: two nodes share one CA — issue on one, revoke on the other, either node serves the one published CRL, which lists it', async () => {
    const db = await createTempPostgresDatabase();
    const a = await openDurableStore(db.url);
    const b = await openDurableStore(db.url);
    try {
      await twoNodesShareOneCa(a, b);
    } finally {
      await a.close();
      await b.close();
      await db.drop();
    }
  });

  test('postgres: two nodes rebuild a CRL at once — a higher CRL number never comes from an older read of the revocations', async () => {
    const db = await createTempPostgresDatabase();
    const a = await openDurableStore(db.url);
    const b = await openDurableStore(db.url);
    try {
      await rebuildRace(a, b);
    } finally {
      await a.close();
      await b.close();
      await db.drop();
    }
  });
});
