/**
 * Secrets at rest, checked the way an attacker with a database dump would: create every
 * kind of secret Portcullis stores (client secret, signing and encryption private keys,
 * app HMAC signing key, app AES key, transit key versions of each type, TOTP seed, a
 * webhook URL carrying its receiver's credential, the audit key) on
 * SQLite and on PostgreSQL, dump the database (the raw SQLite files plus every table as
 * text; `pg_dump` on PostgreSQL, or every table as text when pg_dump is missing) and
 * search the dump for each secret as text and as base64, base64url, hex and raw bytes.
 * None may be found. As a control, the search finds a value the store keeps in clear.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { startTestNode, tempDir, testConfig, type TestNode } from '../support/portcullis.js';
import { createTempPostgresDatabase, serviceTest } from '../support/services.js';
import { loadVersion } from '../../src/crypto/transit/key-material.js';
import { envelopeSecretBox } from '../../src/crypto/secret-box.js';
import { TotpFactor } from '../../src/mfa/totp/totp-factor.js';
import type { DurableStore } from '../../src/store/types.js';
import { HEAD_KEY_CONTEXT, HEAD_KEY_SETTING } from '../../src/audit/head-key.js';

const run = promisify(execFile);

interface Secret {
  what: string;
  bytes: Buffer;
  /** The secret as the owner holds it, when it is text (e.g. a base64url secret). */
  text?: string;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
function base32Decode(s: string): Buffer {
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const c of s.replace(/=+$/, '')) {
    value = (value << 5) | BASE32.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

async function createSecrets(node: TestNode): Promise<{ secrets: Secret[]; clear: string }> {
  const s = node.services;
  const secrets: Secret[] = [];
  const { app, clientSecret } = await s.apps.create({ name: 'dump-app', audiences: ['api'], scopes: [] }, 'test');
  secrets.push({ what: 'client secret', bytes: Buffer.from(clientSecret!, 'base64url'), text: clientSecret! });
  const signing = s.keys.signingKey().privateKey.export({ format: 'jwk' }) as { d: string };
  secrets.push({ what: 'signing private key', bytes: Buffer.from(signing.d, 'base64url'), text: signing.d });
  for (const type of ['P-256', 'X25519'] as const) {
    const kid = s.encryptionKeys.current(type).kid;
    const d = (s.encryptionKeys.decryptionKey(kid)!.key as import('node:crypto').KeyObject).export({ format: 'jwk' }) as { d: string };
    secrets.push({ what: `${type} encryption private key`, bytes: Buffer.from(d.d, 'base64url'), text: d.d });
  }
  const hmac = await s.appSigningKeys.add(app.clientId, { type: 'hmac' }, 'test');
  secrets.push({ what: 'app HMAC signing key', bytes: Buffer.from(hmac.secret!, 'base64url'), text: hmac.secret! });
  const aes = await s.appEncryptionKeys.add(app.clientId, { type: 'symmetric' }, 'test');
  secrets.push({ what: 'app AES-256 key', bytes: Buffer.from(aes.secret!.k as string, 'base64url'), text: aes.secret!.k as string });
  for (const [name, type] of [['dump-aes', 'aes256-gcm'], ['dump-ed', 'ed25519'], ['dump-ec', 'ecdsa-p256']] as const) {
    await s.transit.createKey(name, type);
    await s.transit.rotate(name);
    for (const v of (await s.store.getTransitKey(name))!.versions) {
      const m = await loadVersion(s.envelope, name, v);
      secrets.push({ what: `transit ${name} v${v.version} hmac subkey`, bytes: m.hmac.export() });
      if (m.aes) secrets.push({ what: `transit ${name} v${v.version} AES key`, bytes: m.aes.export() });
      if (m.privateKey) {
        const d = (m.privateKey.export({ format: 'jwk' }) as { d: string }).d;
        secrets.push({ what: `transit ${name} v${v.version} private key`, bytes: Buffer.from(d, 'base64url'), text: d });
      }
    }
  }
  const totp = new TotpFactor({ store: s.store, box: envelopeSecretBox(s.envelope), clock: s.clock }, { issuer: 'Portcullis' });
  const enrolled = await totp.enroll({ userId: 'user-dump-1', address: 'dump@example.org' });
  secrets.push({ what: 'TOTP seed', bytes: base32Decode(enrolled.secretBase32!), text: enrolled.secretBase32! });
  // a receiver whose credential is the URL's path (as chat services' incoming webhooks are)
  const hookToken = randomBytes(24);
  await s.webhooks.subscribe({ url: `https://hooks.example.com/services/${hookToken.toString('base64url')}`, events: ['*'] }, 'test');
  secrets.push({ what: 'webhook URL credential', bytes: hookToken, text: hookToken.toString('base64url') });
  await s.audit.flush();
  // the audit key that authenticates the chain's head (its sealed plaintext: a version byte, then the 32 key bytes)
  const auditKey = await s.envelope.decrypt((await s.store.getSetting(HEAD_KEY_SETTING))!, HEAD_KEY_CONTEXT);
  const head = (await s.store.auditHead())!;
  assert.equal(head.mac, s.auditHeadKey.mac(head.seq, head.hash), 'the head was authenticated with this key');
  secrets.push({ what: 'audit key', bytes: Buffer.from(auditKey.subarray(1, 33)) });
  return { secrets, clear: app.clientId };
}

/** Every table of the store as text, through the store's own connection. */
async function tablesAsText(store: DurableStore): Promise<string> {
  const db = (store as unknown as { db: import('kysely').Kysely<any> }).db;
  let out = '';
  for (const t of await db.introspection.getTables()) {
    const rows = await sql`select * from ${sql.table(t.name)}`.execute(db);
    out += `-- ${t.name}\n${JSON.stringify(rows.rows, (_k, v) => (typeof v === 'bigint' ? String(v) : v && v.type === 'Buffer' ? Buffer.from(v.data).toString('base64') : v))}\n`;
  }
  return out;
}

function assertAbsent(dump: Buffer, secrets: Secret[], clear: string, where: string): void {
  assert.ok(dump.includes(Buffer.from(clear)), `control: the dump of ${where} holds the client id in clear`);
  assert.ok(secrets.length >= 14, `created ${secrets.length} secrets`);
  for (const s of secrets) {
    assert.ok(s.bytes.length >= 16, `${s.what}: at least 16 bytes`);
    const forms = new Set([s.bytes.toString('base64'), s.bytes.toString('base64url'), s.bytes.toString('hex'), s.bytes.toString('hex').toUpperCase()]);
    if (s.text) forms.add(s.text);
    for (const f of forms) assert.equal(dump.includes(Buffer.from(f)), false, `${where}: ${s.what} found in the dump (as ${f.slice(0, 4)}…)`);
    assert.equal(dump.includes(s.bytes), false, `${where}: ${s.what} found in the dump as raw bytes`);
  }
}

const config = (store: string) => testConfig(`store: ${store}\nencryption: { keyTypes: [P-256, X25519] }`);

test('SQLite: the database files and every table as text hold none of the secrets created, in any encoding', async () => {
  const dir = tempDir('portcullis-dump-');
  const node = await startTestNode({ dir, config: config('sqlite:./portcullis.db') });
  try {
    const { secrets, clear } = await createSecrets(node);
    const files = ['portcullis.db', 'portcullis.db-wal'].map((f) => join(dir, f)).filter(existsSync);
    const dump = Buffer.concat([...files.map((f) => readFileSync(f)), Buffer.from(await tablesAsText(node.services.store))]);
    assertAbsent(dump, secrets, clear, 'SQLite');
  } finally {
    await node.stop();
  }
});

await serviceTest('postgres', 'PostgreSQL: pg_dump (or every table as text) holds none of the secrets created, in any encoding', async () => {
  const db = await createTempPostgresDatabase();
  const node = await startTestNode({ config: config(db.url) });
  try {
    const { secrets, clear } = await createSecrets(node);
    let dump: Buffer;
    try {
      dump = Buffer.from((await run('pg_dump', ['--no-owner', '--dbname', db.url], { maxBuffer: 64 * 1024 * 1024 })).stdout);
    } catch {
      dump = Buffer.from(await tablesAsText(node.services.store));
    }
    assert.ok(dump.includes(Buffer.from('transit_key_versions')), 'the dump covers the transit tables');
    assertAbsent(dump, secrets, clear, 'PostgreSQL');
  } finally {
    await node.stop();
    await db.drop();
  }
});
