/**
 * The files of a `caBundle` route (`require.clientCertificate.caBundle`, `crls`). A file
 * that is missing, or holds no certificate or no CRL, must be refused by `config check`
 * and at start, naming the route, the setting and the file. A CRL file that held no CRL
 * (a certificate put there by mistake, an unparseable file) was taken silently: every
 * partner certificate was then refused with `cert.revocation-unknown`, and nothing said
 * why; a missing CRL file said only "a CRL file of require.clientCertificate.crls cannot
 * be read", and `config check` said `ok` to all of it.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CrlPublisher } from '../../src/pki/crl.js';
import { signingView } from '../../src/pki/issuing-ca.js';
import { initPortcullis } from '../../src/init.js';
import { runCli } from '../cli/run.js';
import { makeCa } from '../pki/helpers.js';
import { assertStartAndCheckRefuse } from './helpers.js';
import { tempDir, testConfig } from '../support/portcullis.js';

let dir: string;
let rootPem: string;
let crlPem: string;

function write(name: string, text: string | undefined): void {
  rmSync(join(dir, name), { force: true });
  if (text !== undefined) writeFileSync(join(dir, name), text);
}


before(async () => {
  dir = tempDir('portcullis-partner-files-');
  const partner = await makeCa({ trustDomain: 'partner.example' });
  rootPem = partner.rootPem;
  crlPem = (await new CrlPublisher(partner.store, partner.clock, signingView(partner.ca), 3_600_000).get()).pem;
  await initPortcullis(dir, {
    config: testConfig(`routes:
  - name: partner
    match: { pathPrefix: /partner }
    upstream: http://127.0.0.1:9
    require:
      clientCertificate: { caBundle: partners.pem, crls: [partner.crl] }
`),
  });
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('caBundle route files', () => {
  const cases = [
    { name: 'a missing caBundle', bundle: undefined, crl: 'crl', code: 'config.not-found', message: /^routes partner: require\.clientCertificate\.caBundle: file partners\.pem cannot be read: .*\(ENOENT\)$/ },
    { name: 'a caBundle without a certificate', bundle: 'garbage\n', crl: 'crl', code: 'config.invalid', message: /^routes partner: require\.clientCertificate\.caBundle: partners\.pem holds no CERTIFICATE$/ },
    { name: 'a missing CRL file', bundle: 'root', crl: undefined, code: 'config.not-found', message: /^routes partner: require\.clientCertificate\.crls: file partner\.crl cannot be read: .*\(ENOENT\)$/ },
    { name: 'a CRL file that holds a certificate, not a CRL', bundle: 'root', crl: 'root', code: 'config.invalid', message: /^routes partner: require\.clientCertificate\.crls: partner\.crl holds no X\.509 CRL/ },
    { name: 'a CRL file that is not a CRL at all', bundle: 'root', crl: 'garbage', code: 'config.invalid', message: /^routes partner: require\.clientCertificate\.crls: partner\.crl holds no X\.509 CRL/ },
  ];
  for (const c of cases) {
    test(`${c.name}: start fails with ${c.code} naming the route, the setting and the file; config check says the same`, async () => {
      write('partners.pem', c.bundle === 'root' ? rootPem : c.bundle);
      write('partner.crl', c.crl === 'crl' ? crlPem : c.crl === 'root' ? rootPem : c.crl);
      await assertStartAndCheckRefuse(dir, c.code, c.message);
    });
  }

  test('a certificate bundle and a CRL: config check says ok', async () => {
    write('partners.pem', rootPem);
    write('partner.crl', crlPem);
    const check = await runCli(['config', 'check', '--dir', dir]);
    // nothing about the files; only the note that this config sets no one-time-code sender
    assert.equal(check.stderr, 'note: one-time codes by e-mail are off: no sender is configured (identity.otp.sender is none); set identity.otp.sender to smtp or webhook to offer them\n');
    assert.equal(check.stdout, 'ok\n');
  });
});
