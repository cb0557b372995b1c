/**
 * A partner CRL the gateway cannot use (here: no nextUpdate, RFC 5280 §5.1.2.5) leaves
 * its issuer's certificates `unknown`, so every one of them is refused. The gateway of a
 * running node was set up without the node's logger, so the warning that says which file
 * and why was never written: the operator saw client certificates refused and nothing
 * else. The node's log must name the route's setting, the file and the reason, and never
 * carry the file's contents.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificateList } from '@peculiar/asn1-x509';
import { createLogger } from '../../src/core/logger.js';
import { buildCrl } from '../../src/pki/crl.js';
import { signingView } from '../../src/pki/issuing-ca.js';
import { toPem } from '../../src/pki/pem.js';
import { crlUnusable } from '../../src/pki/revocation-lookup.js';
import { makeCa } from '../pki/helpers.js';
import { startTestNode, tempDir, testConfig, type TestNode } from '../support/portcullis.js';

interface LogLine {
  level: number;
  msg: string;
}

let files: string;
let node: TestNode | undefined;
before(() => {
  files = tempDir('portcullis-partner-crl-log-');
});
after(async () => {
  await node?.stop();
  rmSync(files, { recursive: true, force: true });
});

test('a partner CRL without nextUpdate: the node logs a warning naming the route setting, the file and the reason, not the CRL', async () => {
  const partner = await makeCa({ trustDomain: 'partner.example' });
  const view = signingView(partner.ca);
  const usual = AsnConvert.parse((await buildCrl(partner.store, partner.clock, view, 864e5)).der, CertificateList);
  const tbs = usual.tbsCertList;
  delete tbs.nextUpdate;
  const tbsDer = new Uint8Array(AsnConvert.serialize(tbs));
  const signature = await view.signer.sign(tbsDer);
  const der = new Uint8Array(AsnConvert.serialize(new CertificateList({ tbsCertList: tbs, signatureAlgorithm: usual.signatureAlgorithm, signature: new Uint8Array(signature).buffer })));
  assert.equal(crlUnusable(der), 'no nextUpdate');
  const crlPem = toPem(der, 'X509 CRL');
  writeFileSync(join(files, 'partners.pem'), partner.rootPem);
  writeFileSync(join(files, 'partner.crl'), crlPem);

  const raw: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      raw.push(String(chunk));
      done();
    },
  });
  // on the main thread, so its lines reach this logger (a gateway thread sets up its routes by the same code, with its own logger)
  node = await startTestNode({
    logger: createLogger('info', sink),
    config: testConfig(`gateway: { thread: false }
routes:
  - name: partner
    match: { pathPrefix: /partner }
    upstream: http://127.0.0.1:9
    require:
      clientCertificate: { caBundle: ${join(files, 'partners.pem')}, crls: [${join(files, 'partner.crl')}] }
`),
  });
  const lines = raw.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as LogLine);
  const warnings = lines.filter((l) => l.level === 40 && /require\.clientCertificate\.crls/.test(l.msg));
  assert.equal(warnings.length, 1, JSON.stringify(lines.map((l) => l.msg)));
  assert.match(warnings[0]!.msg, /^routes partner: require\.clientCertificate\.crls: a CRL in .*partner\.crl cannot be used \(no nextUpdate\)/);
  const body = crlPem.split('\n')[1]!;
  assert.ok(!raw.join('').includes(body.slice(0, 40)), 'the CRL itself is not logged');
});
