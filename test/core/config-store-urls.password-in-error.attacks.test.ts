/**
 * `store` and `ephemeral` were checked for their scheme only: a PostgreSQL or Redis URL with a
 * port out of range, a password holding an unencoded `/` or `#`, a Redis database that is no
 * number, loaded, and `config check` said ok; the node failed only at start, as
 * `store.unavailable` or `unavailable` ("cannot be parsed", or an unknown host made of half the
 * password). Both URLs are now parsed as their drivers parse them when the configuration
 * loads (`config.invalid` naming the setting and what is wrong), and no error quotes the URL:
 * its password never reaches the terminal or a log.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { validateConfig } from '../../src/core/config/load.js';
import { isPortcullisError } from '../../src/core/errors.js';
import { Redis } from 'ioredis';
import { openDurableStore, openEphemeralStore } from '../../src/store/index.js';
import { runCli } from '../cli/run.js';
import { createTempPostgresDatabase, randomRedisPrefix, redisUrl, serviceTest } from '../support/services.js';

const PW = 'Sekr3tPW';

function refused(setting: 'store' | 'ephemeral', url: string, secrets: string[] = [PW]): string {
  try {
    validateConfig({ [setting]: url });
  } catch (e) {
    assert.ok(isPortcullisError(e) && e.code === 'config.invalid', String(e));
    const shown = `${e.message}\n${JSON.stringify(e.details)}`;
    for (const s of secrets) assert.ok(!shown.includes(s), `${s} is in the error:\n${shown}`);
    assert.ok(e.message.startsWith(`invalid configuration:\n  ${setting}: `), e.message);
    return e.message.slice(`invalid configuration:\n  ${setting}: `.length);
  }
  assert.fail(`accepted: ${url}`);
}

test('attack: a store URL with its password and a port out of range, not a number, or 0 → config.invalid naming store and the port, the password not shown', () => {
  const PORT = 'not a usable PostgreSQL URL (postgres://user:password@host:port/database): the port is not a number from 1 to 65535';
  assert.equal(refused('store', `postgres://portcullis:${PW}@127.0.0.1:99999/portcullis`), PORT);
  assert.equal(refused('store', `postgresql://portcullis:${PW}@db.internal:54x2/portcullis`), PORT);
  assert.equal(refused('store', `postgres://portcullis:${PW}@127.0.0.1:0/portcullis`), PORT);
});

test('attack: a store URL whose password holds an unencoded / or # → config.invalid saying to percent-encode, no part of the password shown', () => {
  const ENCODE = /^not a usable PostgreSQL URL \(postgres:\/\/user:password@host:port\/database\): .*a \/, \? or # in the user name or password must be percent-encoded \(%2F, %3F, %23\)/;
  assert.match(refused('store', 'postgres://portcullis:Sekr/3tPW@db:5432/portcullis', ['Sekr', '3tPW']), ENCODE);
  assert.match(refused('store', 'postgres://portcullis:Sekr#3tPW@db:5432/portcullis', ['Sekr', '3tPW']), ENCODE);
  // parses, as host "portcullis", port 1234 and database "3tPW@db/portcullis": start would look up the host and name the database
  assert.match(refused('store', 'postgres://portcullis:1234/3tPW@db/portcullis', ['1234', '3tPW']), /^not a usable PostgreSQL URL [^]*: an @ after the host/);
  assert.match(refused('store', `postgres://portcullis:${PW}@db host/portcullis`), /the host name holds a space or a control character$/);
});

test('attack: a Redis URL with its password and a bad port, an unencoded / in the password, a % that encodes nothing, a database that is no number → config.invalid naming ephemeral', () => {
  assert.equal(refused('ephemeral', `redis://:${PW}@127.0.0.1:99999`), 'not a usable Redis URL (redis://user:password@host:port/db): the port is not a number from 1 to 65535');
  assert.match(refused('ephemeral', 'rediss://default:Sekr/3tPW@cache:6379', ['Sekr', '3tPW']), /^not a usable Redis URL [^]*a \/, \? or # in the user name or password must be percent-encoded/);
  assert.equal(refused('ephemeral', `redis://:${PW}%zz@cache:6379`), 'not a usable Redis URL (redis://user:password@host:port/db): the user name or password holds a % that encodes no UTF-8 text: write % itself as %25, and a character outside ASCII as its UTF-8 bytes (é as %C3%A9)');
  assert.equal(refused('ephemeral', `redis://:${PW}@cache:6379/sessions`), 'not a usable Redis URL (redis://user:password@host:port/db): the database (the path) must be a number, e.g. redis://cache:6379/0');
});

test('attack: a store URL whose user name, password, host or database holds escapes that are no UTF-8 (%E9) → config.invalid naming store, not the raw URIError pg throws at start', () => {
  const UNDECODABLE = 'a % that encodes no UTF-8 text: write % itself as %25, and a character outside ASCII as its UTF-8 bytes (é as %C3%A9)';
  const FORM = 'not a usable PostgreSQL URL (postgres://user:password@host:port/database)';
  assert.equal(refused('store', `postgres://portcullis:${PW}%E9@db:5432/portcullis`), `${FORM}: the user name or password holds ${UNDECODABLE}`);
  assert.equal(refused('store', `postgres://portcullis%C3:${PW}@db/portcullis`), `${FORM}: the user name or password holds ${UNDECODABLE}`);
  assert.equal(refused('store', `postgres://portcullis:${PW}@db/portcullis%E0%80`), `${FORM}: the database name holds ${UNDECODABLE}`);
  assert.equal(refused('store', `postgres://portcullis:${PW}@d%E0%80b/portcullis`), `${FORM}: the host name holds ${UNDECODABLE}`);
  // the same words for Redis, whose % that encodes nothing was refused already
  assert.equal(refused('ephemeral', `redis://:${PW}%E9@cache:6379`), `not a usable Redis URL (redis://user:password@host:port/db): the user name or password holds ${UNDECODABLE}`);
});

test('a bad scheme is still refused as before; the URLs drivers take are accepted', () => {
  assert.equal(refused('store', 'mysql://u@db/x'), 'expected sqlite:<path> or postgres://user@host:port/db');
  assert.equal(refused('ephemeral', 'memcached://cache:11211'), 'expected memory or redis://host:port');
  for (const store of [
    'sqlite:./portcullis.db',
    'postgres://portcullis:pa ss@db:5432/portcullis',
    'postgres://portcullis:p@ss@db/portcullis',
    'postgres://portcullis:50%off@db/portcullis',
    'postgres://portcullis:p%C3%A9ss@db/portcullis%C3%A9',
    'postgres://portcullis:p%2Fss@[::1]:5432/portcullis',
    'postgres:///portcullis',
    'postgres://portcullis@/portcullis',
    'postgres://%2Fvar%2Frun%2Fpostgresql/portcullis',
    'postgresql://portcullis@db/portcullis?host=/tmp&sslmode=require',
    'postgres://db:5432',
  ]) {
    assert.equal(validateConfig({ store }).store, store);
  }
  for (const ephemeral of ['memory', 'redis://127.0.0.1:6379', 'rediss://default:pa ss@cache:6380/2', 'redis://:p%2Fss@cache/', 'redis://cache']) {
    assert.equal(validateConfig({ ephemeral }).ephemeral, ephemeral);
  }
});

test('a scheme in upper or mixed case (RFC 3986 §3.1: case-insensitive) loads, lower-cased and the rest kept as written, since pg and ioredis take it but ioredis turns TLS on for a lower-case rediss:// only', () => {
  assert.equal(validateConfig({ store: `POSTGRES://portcullis:${PW}@db:5432/portcullis` }).store, `postgres://portcullis:${PW}@db:5432/portcullis`);
  assert.equal(validateConfig({ store: 'PostgreSQL://Portcullis@DB/Portcullis?sslmode=require' }).store, 'postgresql://Portcullis@DB/Portcullis?sslmode=require');
  assert.equal(validateConfig({ store: 'SQLite:./Portcullis.db' }).store, 'sqlite:./Portcullis.db');
  assert.equal(validateConfig({ ephemeral: `Redis://:${PW}@cache:6379/2` }).ephemeral, `redis://:${PW}@cache:6379/2`);
  // as written, ioredis would parse REDISS:// and connect in clear: its TLS switch is arg.startsWith('rediss://')
  const ephemeral = validateConfig({ ephemeral: `REDISS://default:${PW}@cache:6380` }).ephemeral;
  assert.equal(ephemeral, `rediss://default:${PW}@cache:6380`);
  const redis = new Redis(ephemeral, { lazyConnect: true });
  assert.equal(redis.options.tls !== undefined, true, 'TLS on');
  redis.disconnect();
  // still checked as the drivers parse them, in any case
  assert.equal(refused('store', `POSTGRES://portcullis:${PW}@db:99999/portcullis`), 'not a usable PostgreSQL URL (postgres://user:password@host:port/database): the port is not a number from 1 to 65535');
  assert.equal(refused('ephemeral', `REDIS://:${PW}@cache/sessions`), 'not a usable Redis URL (redis://user:password@host:port/db): the database (the path) must be a number, e.g. redis://cache:6379/0');
  assert.equal(refused('ephemeral', 'MEMORY'), 'expected memory or redis://host:port');
});

await serviceTest(['postgres', 'redis'], 'a node opens the store and the ephemeral store from URLs whose scheme is upper-case', async () => {
  const db = await createTempPostgresDatabase();
  try {
    const config = validateConfig({ store: db.url.replace(/^postgres(ql)?:/, 'POSTGRES:'), ephemeral: redisUrl().replace(/^redis:/, 'REDIS:') });
    const store = await openDurableStore(config.store);
    await store.close();
    const ephemeral = await openEphemeralStore(config.ephemeral, { prefix: randomRedisPrefix() });
    await ephemeral.close();
  } finally {
    await db.drop();
  }
});

/*
 * The query of a store URL was not looked at: pg takes every option in it, reads sslcert,
 * sslkey and sslrootcert with readFileSync when it connects (a raw ENOENT at start), throws
 * for an unknown sslnegotiation, takes an unknown sslmode (or ssl=false) for TLS with full
 * verification, connects to port NaN for port=abc, and lets statement_timeout replace
 * postgres.statementTimeout (statement_timeout=0 turned the bound off, silently).
 */
const FORM = 'not a usable PostgreSQL URL (postgres://user:password@host:port/database)';

test('attack: a store URL whose query holds an sslmode or ssl pg misreads, a port that is no number, a host with a space, an sslnegotiation pg throws for → config.invalid naming the option, no value or password shown', () => {
  const store = (query: string) => `postgres://portcullis:${PW}@db:5432/portcullis?${query}`;
  const SSLMODE = `${FORM}: the sslmode option is none of disable, allow, prefer, require, verify-ca, verify-full, no-verify`;
  assert.equal(refused('store', store('sslmode=verifyfull')), SSLMODE);
  assert.equal(refused('store', store('sslmode=Require')), SSLMODE);
  assert.equal(refused('store', `postgres://portcullis@db/portcullis?password=${PW}&sslmode=${PW}`), SSLMODE);
  assert.equal(refused('store', store('ssl=false')), `${FORM}: the ssl option is none of true, 1, 0, no-verify (pg turns TLS on for any other value, false included: write ssl=0 or sslmode=disable to turn it off)`);
  const PORT = `${FORM}: the port option is not a number from 1 to 65535`;
  assert.equal(refused('store', store('port=abc')), PORT);
  assert.equal(refused('store', store('port=5432x')), PORT);
  assert.equal(refused('store', store('port=0')), PORT);
  assert.equal(refused('store', store('port=65536')), PORT);
  assert.equal(refused('store', store('host=db%20internal')), `${FORM}: the host option holds a space or a control character`);
  assert.equal(refused('store', store('sslnegotiation=tls')), `${FORM}: the sslnegotiation option is none of postgres, direct`);
  assert.equal(refused('store', store('sslnegotiation=direct&sslmode=disable')), `${FORM}: sslnegotiation=direct needs TLS, which sslmode=disable or ssl=0 turns off`);
  assert.equal(refused('store', store('uselibpqcompat=true&sslmode=verify-ca')), `${FORM}: sslmode=verify-ca with uselibpqcompat=true needs sslrootcert, the CA that signed the server's certificate`);
  assert.equal(refused('store', store('statement_timeout=0')), `${FORM}: the statement_timeout option would replace postgres.statementTimeout: set that instead`);
  // empty, it is no bound at all in pg (false), not the configured one
  assert.equal(refused('store', store('statement_timeout=')), `${FORM}: the statement_timeout option would replace postgres.statementTimeout: set that instead`);
});

test('attack: a store URL whose sslcert, sslkey or sslrootcert names no readable file (pg reads it with readFileSync at connect: a raw ENOENT at start) → config.invalid naming the option', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pc-store-tls-'));
  try {
    const store = (query: string) => `postgres://portcullis:${PW}@db:5432/portcullis?sslmode=verify-full&${query}`;
    const missing = (option: string, code: string) => `${FORM}: the ${option} option names no file this process can read (${code}; a relative path is read from the working directory)`;
    assert.equal(refused('store', store(`sslrootcert=${join(dir, 'ca.pem')}`)), missing('sslrootcert', 'ENOENT'));
    assert.equal(refused('store', store(`sslcert=${join(dir, 'nope', 'client.pem')}`)), missing('sslcert', 'ENOENT'));
    assert.equal(refused('store', store(`sslkey=${dir}`)), missing('sslkey', 'EISDIR'));
    writeFileSync(join(dir, 'file'), 'x');
    assert.equal(refused('store', store(`sslkey=${join(dir, 'file', 'key.pem')}`)), missing('sslkey', 'ENOTDIR'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the options pg takes as meant still load: each sslmode, ssl flags, readable TLS files, a numeric port, a socket host, sslnegotiation, libpq compatibility with its CA, other options', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pc-store-tls-'));
  try {
    for (const f of ['ca.pem', 'client.pem', 'client.key']) writeFileSync(join(dir, f), '-----BEGIN X-----\n');
    const files = `sslrootcert=${join(dir, 'ca.pem')}&sslcert=${join(dir, 'client.pem')}&sslkey=${join(dir, 'client.key')}`;
    for (const query of [
      ...['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify', ''].map((m) => `sslmode=${m}`),
      ...['true', '1', '0', 'no-verify'].map((v) => `ssl=${v}`),
      `sslmode=verify-full&${files}`,
      `uselibpqcompat=true&sslmode=verify-ca&sslrootcert=${join(dir, 'ca.pem')}`,
      'sslcert=&sslkey=&sslrootcert=',
      'port=5433',
      'port=',
      'host=/var/run/postgresql',
      'sslnegotiation=direct',
      'sslnegotiation=postgres&sslmode=disable',
      'application_name=portcullis&options=-c%20search_path%3Dportcullis&lock_timeout=5000',
    ]) {
      const store = `postgres://portcullis:${PW}@db:5432/portcullis?${query}`;
      assert.equal(validateConfig({ store }).store, store, query);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('attack: config check on a store URL whose sslrootcert does not exist → exit 1, config.invalid naming store and the option, no password on either stream', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pc-store-tls-'));
  try {
    const file = join(dir, 'portcullis.yaml');
    writeFileSync(file, `store: "postgres://portcullis:${PW}@db:5432/portcullis?sslmode=verify-full&sslrootcert=${join(dir, 'ca.pem')}"\n`);
    const r = await runCli(['config', 'check', '--config', file]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `error: config.invalid: invalid configuration:\n  store: ${FORM}: the sslrootcert option names no file this process can read (ENOENT; a relative path is read from the working directory) (line 1)\n`);
    assert.ok(!r.stdout.includes(PW) && !r.stderr.includes(PW));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('attack: config check on a malformed store URL (file) and Redis URL (environment) with passwords → exit 1, config.invalid naming each, no password on stdout or stderr', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pc-store-url-'));
  try {
    const file = join(dir, 'portcullis.yaml');
    writeFileSync(file, `store: "postgres://portcullis:Sekr/${PW}@db:5432/portcullis"\n`);
    const r = await runCli(['config', 'check', '--config', file], { PORTCULLIS_EPHEMERAL: `redis://:${PW}@cache:65536` });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: config\.invalid: invalid configuration:\n {2}store: not a usable PostgreSQL URL [^\n]*percent-encoded[^\n]* \(line 1\)\n {2}ephemeral: not a usable Redis URL \(redis:\/\/user:password@host:port\/db\): the port is not a number from 1 to 65535 \(PORTCULLIS_EPHEMERAL\)\n$/);
    for (const s of [PW, 'Sekr']) assert.ok(!r.stdout.includes(s) && !r.stderr.includes(s), `${s} shown:\n${r.stdout}${r.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
