/**
 * Files holding secrets are owner-only: a group- or world-readable admin token is
 * refused as the master key is (fail closed), and a SQLite database created by `start`
 * (not `init`) is created 0600, with its -wal and -shm files. A database file put back with
 * a wider mode (a restore by `cp` under umask 022) is narrowed to 0600 at open, with any
 * -wal and -shm beside it, before the node writes a secret to them.
 */
import assert from 'node:assert/strict';
import { chmodSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startPortcullis } from '../../src/app.js';
import { isPortcullisError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { readAdminToken } from '../../src/http/admin-auth.js';
import { initDir } from './node.js';

test('attack: a group- or world-readable admin token file is refused with config.invalid naming the file and mode; the node does not start', async () => {
  const { dir, configFile } = await initDir();
  try {
    const file = join(dir, 'admin.token');
    chmodSync(file, 0o644);
    assert.throws(
      () => readAdminToken(file),
      (e) => isPortcullisError(e) && e.code === 'config.invalid' && e.message.includes(file) && /mode 644/.test(e.message) && !e.message.includes('pca_'),
    );
    await assert.rejects(startPortcullis({ configFile, ephemeralPorts: true, logger: silentLogger }), (e) => isPortcullisError(e) && e.code === 'config.invalid');
    chmodSync(file, 0o640);
    assert.throws(() => readAdminToken(file), (e) => isPortcullisError(e) && e.code === 'config.invalid');
    chmodSync(file, 0o600);
    assert.match(readAdminToken(file), /^pca_/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a SQLite database that start creates (not init) is 0600, and so are its -wal and -shm files', async () => {
  const { dir, configFile } = await initDir();
  try {
    for (const s of ['', '-wal', '-shm']) rmSync(join(dir, `portcullis.db${s}`), { force: true });
    const node = await startPortcullis({ configFile, ephemeralPorts: true, logger: silentLogger });
    try {
      for (const s of ['', '-wal', '-shm']) {
        assert.equal((statSync(join(dir, `portcullis.db${s}`)).mode & 0o777).toString(8), '600', `portcullis.db${s}`);
      }
    } finally {
      await node.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('attack: a SQLite database restored group- and world-readable (0644, its -wal and -shm too) is narrowed to 0600 when the node opens it, so the WAL it writes (password hashes, sealed secrets) is owner-only', async () => {
  const { dir, configFile } = await initDir();
  try {
    const db = join(dir, 'portcullis.db');
    writeFileSync(`${db}-wal`, '');
    writeFileSync(`${db}-shm`, '');
    for (const s of ['', '-wal', '-shm']) chmodSync(`${db}${s}`, 0o644);
    const node = await startPortcullis({ configFile, ephemeralPorts: true, logger: silentLogger });
    try {
      await node.services.apps.create({ name: 'after-restore', audiences: ['api'], scopes: [] }, 'test');
      for (const s of ['', '-wal', '-shm']) {
        assert.equal((statSync(`${db}${s}`).mode & 0o777).toString(8), '600', `portcullis.db${s}`);
      }
    } finally {
      await node.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
