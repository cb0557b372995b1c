/** Shared fixtures for the CA tests: a SecretBox, a CA on a frozen clock, openssl runners. */
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, randomBytes, X509Certificate } from 'node:crypto';
import { BasicOCSPResponse, OCSPResponse } from '@peculiar/asn1-ocsp';
import { AsnConvert } from '@peculiar/asn1-schema';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrozenClock } from '../../src/core/clock.js';
import { createHierarchy } from '../../src/pki/hierarchy.js';
import { openIssuingCa, type IssuingCa } from '../../src/pki/issuing-ca.js';
import { MemoryCertificateStore } from '../../src/pki/memory-store.js';
import { SignerRegistry, fileSignerKind, type SecretBox } from '../../src/pki/signer.js';
import type { IssueContext } from '../../src/pki/issue.js';
import { EXT, KU, basicConstraintsValue, ekuValue, encodeName, encodeTbs, extension, keyUsageValue, randomSerial, sanValue, signStructure } from '../../src/pki/certificate.js';

/** AES-256-GCM SecretBox with a random key (what the lead's master-key envelope provides in production). */
export function testSecretBox(): SecretBox & { opened: number } {
  const key = randomBytes(32);
  const box = {
    opened: 0,
    async seal(plain: Uint8Array, aad: string): Promise<string> {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(aad));
      const ct = Buffer.concat([c.update(plain), c.final()]);
      return Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64url');
    },
    async open(sealed: string, aad: string): Promise<Uint8Array> {
      box.opened++;
      const b = Buffer.from(sealed, 'base64url');
      const d = createDecipheriv('aes-256-gcm', key, b.subarray(0, 12)).setAAD(Buffer.from(aad));
      d.setAuthTag(b.subarray(12, 28));
      return new Uint8Array(Buffer.concat([d.update(b.subarray(28)), d.final()]));
    },
  };
  return box;
}

export const T0 = Date.UTC(2030, 0, 15, 12, 0, 0);
export const URL_BASE = 'http://127.0.0.1:8080';

export interface TestCa {
  clock: FrozenClock;
  store: MemoryCertificateStore;
  signers: SignerRegistry;
  box: SecretBox;
  ca: IssuingCa;
  ctx: IssueContext;
  rootPem: string;
  intPem: string;
}

export async function makeCa(opts: { trustDomain?: string; permittedDns?: string[]; permittedIps?: string[]; t0?: number } = {}): Promise<TestCa> {
  const clock = new FrozenClock(opts.t0 ?? T0);
  const store = new MemoryCertificateStore();
  const box = testSecretBox();
  const kind = fileSignerKind(box);
  const signers = new SignerRegistry([kind]);
  const h = await createHierarchy({
    store,
    signerKind: kind,
    clock,
    urlBase: URL_BASE,
    ...(opts.trustDomain ? { trustDomain: opts.trustDomain } : {}),
    ...(opts.permittedDns ? { permittedDns: opts.permittedDns } : {}),
    ...(opts.permittedIps ? { permittedIps: opts.permittedIps } : {}),
  });
  const ca = await openIssuingCa(store, signers, URL_BASE);
  const pem = (der: Uint8Array): string => `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
  return {
    clock,
    store,
    signers,
    box,
    ca,
    ctx: { store, clock, ca, ...(opts.trustDomain ? { trustDomain: opts.trustDomain } : {}) },
    rootPem: pem(h.root.certDer),
    intPem: pem(h.intermediate.certDer),
  };
}

export function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'pki-test-'));
}

export function writeFiles(dir: string, files: Record<string, string | Uint8Array>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, body] of Object.entries(files)) {
    out[name] = join(dir, name);
    writeFileSync(out[name]!, body);
  }
  return out;
}

export function hasOpenssl(): boolean {
  return spawnSync('openssl', ['version']).status === 0;
}

/** Runs openssl; returns status and combined output. */
export function openssl(args: string[], input?: Uint8Array): { status: number; out: string } {
  const r = spawnSync('openssl', args, { input, encoding: 'buffer' });
  return { status: r.status ?? -1, out: `${r.stdout.toString()}${r.stderr.toString()}` };
}

/** Runs openssl and asserts it succeeded (the message names the command and its output). */
export function opensslOk(args: string[]): void {
  const r = openssl(args);
  assert.equal(r.status, 0, `openssl ${args.join(' ')}: ${r.out}`);
}

/**
 * Makes keys and certificates with openssl in `dir`, each named `<name>.key` / `<name>.pem`:
 * an EC key, a self-signed CA certificate for it (CA:TRUE, keyCertSign and cRLSign, a subject
 * key identifier, and `addext`), and a certificate a CA issues for a key through a CSR, with
 * the extensions `ext` (an extfile's text).
 *
 * @example const o = opensslCerts(dir); o.key('root'); o.root('root', { subj: '/CN=Root', days: 30, digest: 'sha256' });
 */
export function opensslCerts(dir: string) {
  const f = (n: string) => join(dir, n);
  return {
    key(name: string, curve = 'prime256v1'): void {
      opensslOk(['genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${curve}`, '-out', f(`${name}.key`)]);
    },
    root(name: string, o: { subj: string; days: number; digest: string; addext?: string[] }): void {
      const extra = (o.addext ?? []).flatMap((e) => ['-addext', e]);
      opensslOk(['req', '-x509', '-new', '-key', f(`${name}.key`), `-${o.digest}`, '-days', String(o.days), '-subj', o.subj, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-addext', 'subjectKeyIdentifier=hash', ...extra, '-out', f(`${name}.pem`)]);
    },
    issue(name: string, o: { ca: string; subj: string; days: number; digest: string; ext: string }): void {
      writeFiles(dir, { [`${name}.ext`]: o.ext });
      opensslOk(['req', '-new', '-key', f(`${name}.key`), '-subj', o.subj, '-out', f(`${name}.csr`)]);
      opensslOk(['x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${o.ca}.pem`), '-CAkey', f(`${o.ca}.key`), '-CAcreateserial', '-days', String(o.days), `-${o.digest}`, '-extfile', f(`${name}.ext`), '-out', f(`${name}.pem`)]);
    },
  };
}

/**
 * A client certificate (CN billing, clientAuth, valid for an hour) for `spki` with the URI
 * SANs `uris`, signed by the test CA's intermediate directly: what a compromised or buggy
 * issuance path would produce, past every check of `issueCertificate`.
 */
export async function signedClientLeaf(t: TestCa, spki: Uint8Array, uris: string[]): Promise<Uint8Array> {
  const tbs = encodeTbs({
    serial: randomSerial(),
    signatureAlgorithm: t.ca.signer.signatureAlgorithm,
    issuer: t.ca.cert.subject,
    notBefore: t.clock.now() - 60_000,
    notAfter: t.clock.now() + 3600_000,
    subject: encodeName([['CN', 'billing']]),
    spki,
    extensions: [
      extension(EXT.basicConstraints, true, basicConstraintsValue(false)),
      extension(EXT.keyUsage, true, keyUsageValue([KU.digitalSignature])),
      extension(EXT.extKeyUsage, false, ekuValue(['1.3.6.1.5.5.7.3.2'])),
      t.ca.template.aki,
      extension(EXT.subjectAltName, false, sanValue(uris.map((uri) => ({ uri })))),
    ],
  });
  return signStructure(tbs, t.ca.signer);
}

/** The certificate status of a successful DER OCSP response's first SingleResponse (asserts it is successful). */
export function ocspCertStatus(der: Uint8Array): 'good' | 'revoked' | 'unknown' {
  const res = AsnConvert.parse(der, OCSPResponse);
  assert.equal(res.responseStatus, 0);
  const basic = AsnConvert.parse(res.responseBytes!.response.buffer, BasicOCSPResponse);
  const s = basic.tbsResponseData.responses[0]!.certStatus;
  return s.good !== undefined ? 'good' : s.revoked !== undefined ? 'revoked' : 'unknown';
}

/** The `-attime` value for openssl verify at the frozen clock's time. */
export const attime = (ms: number): string => String(Math.floor(ms / 1000));

/**
 * A root CA made by openssl with name constraints `constraints` (openssl syntax), and leaves
 * under it with subject alternative names `sans` (openssl syntax: `URI:…`, `email:…`).
 *
 * @example constrainedCa('excluded;email:.evil.example').leaf(['email:x@a.evil.example.'])
 */
export function constrainedCa(constraints: string): { anchors: Uint8Array[]; leaf: (sans: string[]) => Uint8Array } {
  const dir = tmp();
  const f = (n: string) => join(dir, n);
  opensslOk(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=Constrained CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-addext', `nameConstraints=critical,${constraints}`]);
  let n = 0;
  return {
    anchors: [new Uint8Array(new X509Certificate(readFileSync(f('ca.pem'))).raw)],
    leaf: (sans) => {
      const name = `leaf${n++}`;
      writeFiles(dir, { [`${name}.ext`]: `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectAltName=${sans.join(',')}\n` });
      opensslOk(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`]);
      opensslOk(['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', f(`${name}.ext`), '-out', f(`${name}.pem`)]);
      return new Uint8Array(new X509Certificate(readFileSync(f(`${name}.pem`))).raw);
    },
  };
}

export { execFileSync };
