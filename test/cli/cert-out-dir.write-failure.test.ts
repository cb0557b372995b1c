/**
 * `cert issue --out-dir` checks the directory before anything is issued, but the files are
 * written after the admin API answered. A write that failed then (the directory removed or
 * full, a file of that name already there) surfaced as `error: internal: ENOENT: …`, and the
 * files written were never fsynced. Now each file is created whole or not at all (fsynced,
 * key and PKCS#12 0600) and a failure is one typed line naming the path and the serial.
 * The admin API is a stand-in here, so the failure can be caused while the CLI waits for it.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { initDir, tempDir } from '../admin/node.js';
import { runCli } from './run.js';

const ISSUED = {
  serial: '0A1B2C3D',
  not_after: '2030-01-01T00:00:00.000Z',
  certificate: '-----BEGIN CERTIFICATE-----\nTEAF\n-----END CERTIFICATE-----\n',
  chain: '-----BEGIN CERTIFICATE-----\nTEAF\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nSU5U\n-----END CERTIFICATE-----\n',
  private_key: '-----BEGIN PRIVATE KEY-----\nS0VZ\n-----END PRIVATE KEY-----\n',
};

describe('CLI: cert issue --out-dir when writing the files fails', () => {
  const root = tempDir('portcullis-cli-cert-out-');
  let dir: string;
  let server: Server;
  let adminUrl: string;
  /** runs while the CLI waits for the admin API's answer */
  let onIssue: () => void = () => undefined;
  /** what the stand-in admin API answers */
  let answer: Record<string, unknown> = ISSUED;
  before(async () => {
    dir = (await initDir(join(root, 'node'))).dir;
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        onIssue();
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    adminUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((r) => server.close(r));
    rmSync(root, { recursive: true, force: true });
  });

  const issue = (out: string) => runCli(['cert', 'issue', '--dns', 'a.example', '--out-dir', out, '--dir', dir, '--admin-url', adminUrl], {}, 60_000);

  test('the out dir removed while the certificate is issued → one typed line naming the file and the serial, exit 1 (was internal)', async () => {
    const out = join(root, 'gone');
    onIssue = () => rmSync(out, { recursive: true, force: true });
    const r = await issue(out);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, '');
    const file = join(out, `${ISSUED.serial}.pem`);
    assert.equal(r.stderr, `error: request.invalid: --out-dir ${file}: no such file or directory (ENOENT); certificate ${ISSUED.serial} was issued: revoke it (portcullis cert revoke ${ISSUED.serial}) and issue again\n`);
  });

  test('a key file of that name already there → typed error, the file left as it was, nothing half written', async () => {
    const out = join(root, 'taken');
    const key = join(out, `${ISSUED.serial}.key`);
    onIssue = () => writeFileSync(key, 'not mine\n');
    const r = await issue(out);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^error: request\\.invalid: --out-dir ${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: already exists \\(EEXIST\\); certificate ${ISSUED.serial} was issued: `));
    assert.equal(r.stderr.split('\n').length, 2, r.stderr);
    assert.equal(readFileSync(key, 'utf8'), 'not mine\n');
    assert.deepEqual(readdirSync(out).filter((f) => f.includes('.tmp-')), []);
  });

  test('written whole: certificate and chain 0644, key 0600, no temporary files left', async () => {
    const out = join(root, 'ok');
    onIssue = () => undefined;
    const r = await issue(out);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(out, `${ISSUED.serial}.pem`), 'utf8'), ISSUED.certificate);
    assert.equal(readFileSync(join(out, `${ISSUED.serial}.chain.pem`), 'utf8'), ISSUED.chain);
    assert.equal(readFileSync(join(out, `${ISSUED.serial}.key`), 'utf8'), ISSUED.private_key);
    assert.equal(statSync(join(out, `${ISSUED.serial}.pem`)).mode & 0o777, 0o644);
    assert.equal(statSync(join(out, `${ISSUED.serial}.key`)).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(out).sort(), [`${ISSUED.serial}.chain.pem`, `${ISSUED.serial}.key`, `${ISSUED.serial}.pem`]);
  });

  // Attack: the file names are built from the serial the admin API answers. A broken or
  // hostile node (or whatever answers at --admin-url) answering `../../x` had the CLI write
  // the certificate and the generated private key outside --out-dir. The serial must be
  // 2 to 40 hex digits (RFC 5280: at most 20 octets), as the node itself requires, before
  // it names a file; nothing is written otherwise.
  let n = 0;
  for (const serial of ['../../x', 'ab/cd', '..', '', 'a'.repeat(41), 'ABCD\n', 42]) {
    test(`attack: the admin API answers serial ${JSON.stringify(serial)} → error: internal naming the answer, exit 1, no file written anywhere`, async () => {
      const base = join(root, `serial-${n++}`);
      const out = join(base, 'a', 'out');
      onIssue = () => undefined;
      answer = { ...ISSUED, serial };
      try {
        const r = await issue(out);
        assert.equal(r.code, 1, r.stderr);
        assert.equal(r.stdout, '');
        assert.equal(r.stderr, `error: internal: the admin API answered serial ${typeof serial === 'string' ? JSON.stringify(serial) : typeof serial}, not 2 to 40 hex digits: no file was written to --out-dir; find the certificate with portcullis cert list\n`);
        assert.deepEqual(readdirSync(base, { recursive: true }).sort(), ['a', join('a', 'out')]);
      } finally {
        answer = ISSUED;
      }
    });
  }

  test('attack: cert renew --out-dir checks the serial the admin API answers the same way', async () => {
    const out = join(root, 'renew', 'out');
    answer = { ...ISSUED, serial: '../../renewed' };
    try {
      const r = await runCli(['cert', 'renew', '0a1b', '--out-dir', out, '--dir', dir, '--admin-url', adminUrl], {}, 60_000);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr, 'error: internal: the admin API answered serial "../../renewed", not 2 to 40 hex digits: no file was written to --out-dir; find the certificate with portcullis cert list\n');
      assert.deepEqual(readdirSync(join(root, 'renew'), { recursive: true }), ['out']);
    } finally {
      answer = ISSUED;
    }
  });
});
