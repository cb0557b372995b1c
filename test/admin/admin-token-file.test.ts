/**
 * An admin token file whose content cannot be sent as a bearer token (RFC 6750 §2.1
 * b64token: letters, digits and - . _ ~ + / then =) is refused at start with
 * config.invalid naming the file, never echoing the content. It was accepted, and then
 * no request could match it: every admin call was 401, and with a line break in it the
 * CLI could not build the header and reported the node as unreachable.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startPortcullis } from '../../src/app.js';
import { isPortcullisError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { readAdminToken } from '../../src/http/admin-auth.js';
import { initDir } from './node.js';

test('an admin token with a space, a line break or a non-ASCII character → config.invalid naming the file; the node does not start', async () => {
  const { dir, configFile } = await initDir();
  try {
    const file = join(dir, 'admin.token');
    for (const token of ['my admin token is long enough 1234', 'pca_first-half-of-the-token\npca_second-half', 'pca_ünïcødé-token-that-is-long-enough']) {
      writeFileSync(file, `${token}\n`, { mode: 0o600 });
      assert.throws(
        () => readAdminToken(file),
        (e) => isPortcullisError(e) && e.code === 'config.invalid' && e.message.includes(file) && /bearer token/.test(e.message) && !e.message.includes('token is long') && !e.message.includes('half'),
        JSON.stringify(token),
      );
    }
    await assert.rejects(startPortcullis({ configFile, ephemeralPorts: true, logger: silentLogger }), (e) => isPortcullisError(e) && e.code === 'config.invalid');
    writeFileSync(file, 'pca_Abc-_.~+/0123456789abcdefghijklmnopqrstuv==\n', { mode: 0o600 });
    assert.equal(readAdminToken(file), 'pca_Abc-_.~+/0123456789abcdefghijklmnopqrstuv==');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
