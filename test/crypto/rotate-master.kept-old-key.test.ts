/**
 * `keys rotate-master --keep-old` keeps the previous master key as master.key.old: after
 * the swap it is the only copy of the key that opens backups made before the rotation.
 * The copy was written without an fsync, so a power loss in the seconds after the
 * rotation (the rename of master.key is made durable, the copy's data need not be) could
 * leave an empty master.key.old and those backups unreadable. It is now written as the
 * other key files are: created exclusively (0600), its data fsynced before the swap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs, { fstatSync, readFileSync, statSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { startTestNode, tempDir, testConfig } from '../support/portcullis.js';
import { rotateMasterKey } from '../../src/crypto/rotate-master.js';
import { openDurableStore } from '../../src/store/index.js';
import { AuditTrail } from '../../src/audit/trail.js';
import { silentLogger } from '../../src/core/logger.js';

test('rotate-master --keep-old: master.key.old holds the previous key (0600) and its data was fsynced before the rotation answered', async () => {
  const d = tempDir('portcullis-rotate-keep-old-');
  const n = await startTestNode({ dir: d, config: testConfig(), keepDir: false });
  const store = await openDurableStore(`sqlite:${join(d, 'portcullis.db')}`);
  const previous = readFileSync(join(d, 'master.key'), 'utf8');
  // the inodes whose data was fsynced (the file may have been written under a temporary name, then linked)
  const fsynced: number[] = [];
  const realFsync = fs.fsyncSync;
  fs.fsyncSync = (fd: number) => {
    fsynced.push(fstatSync(fd).ino);
    realFsync(fd);
  };
  syncBuiltinESMExports();
  try {
    const r = await rotateMasterKey(store, join(d, 'master.key'), { keepOld: true, audit: new AuditTrail(store, silentLogger), actor: 'test' });
    const old = join(d, 'master.key.old');
    assert.equal(r.oldKeyFile, old);
    assert.equal(readFileSync(old, 'utf8'), previous);
    assert.equal(statSync(old).mode & 0o777, 0o600);
    assert.ok(fsynced.includes(statSync(old).ino), 'the data of master.key.old was fsynced');
  } finally {
    fs.fsyncSync = realFsync;
    syncBuiltinESMExports();
    await store.close();
    await n.stop();
  }
});
