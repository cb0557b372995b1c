/**
 * `tls.mode: files`: a certificate or key file that is missing, holds no PEM of its kind,
 * or a key that is not the certificate's. `config check` must refuse it (it said `ok`,
 * and the next start failed), start must name the setting and the file (it answered
 * `internal: ERR_OSSL_PEM_NO_START_LINE`), and a bad file swapped in while the node runs
 * must leave the served certificate as it was.
 */
import assert from 'node:assert/strict';
import { copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PortcullisError } from '../../src/core/errors.js';
import { loadConfig } from '../../src/core/config/load.js';
import { silentLogger } from '../../src/core/logger.js';
import { openServerTls } from '../../src/http/tls.js';
import { CONFIG_FILE, initPortcullis } from '../../src/init.js';
import type { CertificateAuthority } from '../../src/pki/authority.js';
import { FrozenClock } from '../../src/core/clock.js';
import { runCli } from '../cli/run.js';
import { tempDir, testConfig } from '../support/portcullis.js';
import { assertStartAndCheckRefuse, run } from './helpers.js';

let dir: string;

/** A self-signed P-256 certificate and its key, as openssl writes them. */
async function pair(name: string): Promise<void> {
  const r = await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`)]);
  assert.equal(r.code, 0, r.err);
}

/** cert.pem and key.pem from the named files (or text). */
function use(cert: string, key: string): void {
  for (const [from, to] of [[cert, 'cert.pem'], [key, 'key.pem']] as const) {
    rmSync(join(dir, to), { force: true });
    if (from.startsWith('text:')) writeFileSync(join(dir, to), from.slice(5));
    else if (from !== 'none') copyFileSync(join(dir, from), join(dir, to));
  }
}


before(async () => {
  dir = tempDir('portcullis-tls-files-');
  await initPortcullis(dir, { config: testConfig('tls: { mode: files, certFile: cert.pem, keyFile: key.pem }\n') });
  await pair('a');
  await pair('b');
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('tls.mode files: bad certificate or key files', () => {
  const cases = [
    { name: 'a certificate file without a PEM certificate', cert: 'text:garbage\n', key: 'a.key', code: 'config.invalid', message: /^tls\.certFile: cert\.pem holds no PEM certificate/ },
    { name: 'a key file without a PEM private key', cert: 'a.crt', key: 'text:garbage\n', code: 'config.invalid', message: /^tls\.keyFile: key\.pem holds no PEM private key/ },
    { name: 'the key of another certificate', cert: 'a.crt', key: 'b.key', code: 'config.invalid', message: /^tls\.keyFile: key\.pem is not the private key of the certificate in tls\.certFile \(cert\.pem\)$/ },
    { name: 'a missing key file', cert: 'a.crt', key: 'none', code: 'config.not-found', message: /^tls\.keyFile: file key\.pem cannot be read: .*\(ENOENT\)$/ },
  ];
  for (const c of cases) {
    test(`${c.name}: start fails with ${c.code} naming the setting and the file; config check says the same`, async () => {
      use(c.cert, c.key);
      await assertStartAndCheckRefuse(dir, c.code, c.message);
    });
  }

  test('a good pair: config check says ok', async () => {
    use('a.crt', 'a.key');
    const check = await runCli(['config', 'check', '--dir', dir]);
    assert.equal(check.code, 0, check.stderr);
    assert.equal(check.stdout, 'ok\n');
  });

  test('while running, a bad certificate swapped in is refused by the check (naming the file) and the served one stays', async () => {
    use('a.crt', 'a.key');
    const { config } = loadConfig(join(dir, CONFIG_FILE), {});
    const tls = (await openServerTls(config, (f) => join(dir, f), { ready: false } as unknown as CertificateAuthority, new FrozenClock(0), silentLogger))!;
    const served = tls.serverOptions().cert;
    use('text:garbage\n', 'a.key');
    await assert.rejects(tls.check(), (e) => e instanceof PortcullisError && e.code === 'config.invalid' && /^tls\.certFile: cert\.pem holds no PEM certificate/.test(e.message));
    assert.equal(tls.serverOptions().cert, served);
    use('b.crt', 'b.key');
    assert.equal(await tls.check(), true);
    assert.notEqual(tls.serverOptions().cert, served);
  });
});
