/**
 * identity.passwords.argon2id: the Argon2id parameters of new password hashes come from
 * the config, below OWASP's minimum is refused naming the key, and a stored hash made
 * with the old parameters is upgraded at the next sign-in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parseConfigText, validateConfig } from '../../src/core/config/load.js';
import { DEFAULT_CONFIG } from '../../src/core/config/default-config.js';
import { PortcullisError } from '../../src/core/errors.js';
import { Argon2idHasher, OWASP_ARGON2ID } from '../../src/identity/passwords/argon2id.js';
import { PasswordHashers } from '../../src/identity/passwords/hasher.js';
import { startTestNode } from '../admin/node.js';

const PASSWORD = 'plum tractor velvet orbit';

function configError(raw: unknown): string {
  try {
    validateConfig(raw);
  } catch (e) {
    assert.ok(e instanceof PortcullisError);
    return `${e.code}: ${e.message}`;
  }
  assert.fail('expected a config error');
}

test('config: identity.passwords.argon2id defaults to OWASP’s minimum (m=19456, t=2, p=1)', () => {
  assert.deepEqual(validateConfig(parseConfigText(DEFAULT_CONFIG)).identity.passwords.argon2id, { memoryCost: 19456, timeCost: 2, parallelism: 1 });
  assert.deepEqual({ ...OWASP_ARGON2ID }, { memoryCost: 19456, timeCost: 2, parallelism: 1 });
  // OWASP's other minimum equivalents are accepted, and RFC 9106's memory-constrained choice
  for (const ok of [
    { memoryCost: 47104, timeCost: 1 },
    { memoryCost: 7168, timeCost: 5 },
    { memoryCost: 65536, timeCost: 3, parallelism: 4 },
  ]) {
    assert.equal(validateConfig({ identity: { passwords: { argon2id: ok } } }).identity.passwords.argon2id.memoryCost, ok.memoryCost);
  }
});

test('bad config: Argon2id parameters below OWASP’s minimum, or out of range, are refused naming identity.passwords.argon2id', () => {
  assert.match(configError({ identity: { passwords: { argon2id: { memoryCost: 19456, timeCost: 1 } } } }), /^config\.invalid: [^]*identity\.passwords\.argon2id: memoryCost × timeCost must be at least 35840/);
  assert.match(configError({ identity: { passwords: { argon2id: { memoryCost: 4096, timeCost: 10 } } } }), /identity\.passwords\.argon2id\.memoryCost: /);
  assert.match(configError({ identity: { passwords: { argon2id: { memoryCost: 2_000_000 } } } }), /identity\.passwords\.argon2id\.memoryCost: /);
  assert.match(configError({ identity: { passwords: { argon2id: { timeCost: 0 } } } }), /identity\.passwords\.argon2id\.timeCost: /);
  assert.match(configError({ identity: { passwords: { argon2id: { parallelism: 1.5 } } } }), /identity\.passwords\.argon2id\.parallelism: /);
  assert.match(configError({ identity: { passwords: { argon2id: { memory: 65536 } } } }), /identity\.passwords\.argon2id: unknown key "memory"/);
});

test('a hash made with the old parameters verifies and is replaced by one with the configured parameters', async () => {
  const old = await new Argon2idHasher().hash(PASSWORD);
  assert.match(old, /\$m=19456,t=2,p=1\$/);
  const stronger = new PasswordHashers(new Argon2idHasher({ memoryCost: 47104, timeCost: 1 }));
  const r = await stronger.verify(old, PASSWORD);
  assert.equal(r.ok, true);
  assert.match(r.rehash!, /^\$argon2id\$v=19\$m=47104,t=1,p=1\$/);
  assert.deepEqual(await stronger.verify(r.rehash!, PASSWORD), { ok: true });
  assert.deepEqual(await stronger.verify(old, 'plum tractor velvet orbiT'), { ok: false });
});

test('a node with identity.passwords.argon2id set stores new users’ passwords with those parameters', async () => {
  const n = await startTestNode({ config: 'identity:\n  passwords:\n    argon2id: { memoryCost: 47104, timeCost: 1 }\n' });
  try {
    const r = await n.api('/v1/users', { body: { email: 'argon@example.test', password: PASSWORD } });
    assert.equal(r.status, 201);
    const db = new Database(join(n.dir, 'portcullis.db'), { readonly: true });
    try {
      const row = db.prepare('SELECT hash FROM password_hashes WHERE user_id = ?').get(r.body.user.id) as { hash: string } | undefined;
      assert.match(row?.hash ?? '', /^\$argon2id\$v=19\$m=47104,t=1,p=1\$/);
    } finally {
      db.close();
    }
  } finally {
    await n.close();
  }
});
