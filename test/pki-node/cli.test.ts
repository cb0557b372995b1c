/**
 * `portcullis cert …` and `portcullis ca export` against a running TLS node: the issued
 * files pass `openssl verify -x509_strict`, the key file is 0600, list/show/revoke go
 * through the admin API, and the exported root is the one the listeners chain to.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../cli/run.js';
import { createApp, echoUpstream, run, startTlsNode } from './helpers.js';

const up = await echoUpstream();
const node = await startTlsNode(up.url);
after(async () => {
  await node.stop();
  up.server.close();
});
const base = ['--dir', node.dir, '--admin-url', node.urls.admin!];

test('cert issue/list/show/revoke and ca export through the CLI; the files pass openssl verify -x509_strict', async () => {
  const id = await createApp(node, 'cli-app');
  const out = mkdtempSync(join(tmpdir(), 'portcullis-cli-cert-'));
  const issued = await runCli(['cert', 'issue', '--client-id', id, '--out-dir', out, ...base]);
  assert.equal(issued.code, 0, issued.stderr);
  const serial = /serial ([0-9a-f]+)/.exec(issued.stdout)![1]!;
  assert.equal(statSync(join(out, `${serial}.key`)).mode & 0o777, 0o600);

  const exported = await runCli(['ca', 'export', '--dir', node.dir]);
  assert.equal(exported.code, 0, exported.stderr);
  assert.equal(exported.stdout, node.services.pki.rootPem());
  assert.equal(readFileSync(join(node.dir, 'ca.pem'), 'utf8'), exported.stdout, 'init wrote the same root to DIR/ca.pem');
  const chain = readFileSync(join(out, `${serial}.chain.pem`), 'utf8');
  const inter = chain.split('-----END CERTIFICATE-----\n')[1]! + '-----END CERTIFICATE-----\n';
  const interFile = join(out, 'inter.pem');
  (await import('node:fs')).writeFileSync(interFile, inter);
  const v = await run('openssl', ['verify', '-x509_strict', '-CAfile', join(node.dir, 'ca.pem'), '-untrusted', interFile, join(out, `${serial}.pem`)]);
  assert.equal(v.code, 0, v.out + v.err);

  const list = await runCli(['cert', 'list', '--owner', id, ...base]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`${serial}\\s+client\\s+${id}\\s+active`));
  const show = await runCli(['cert', 'show', serial, '--pem', ...base]);
  assert.equal(show.stdout, readFileSync(join(out, `${serial}.pem`), 'utf8'));
  const revoke = await runCli(['cert', 'revoke', serial, '--reason', 'superseded', ...base]);
  assert.equal(revoke.code, 0, revoke.stderr);
  const after = await runCli(['cert', 'list', '--status', 'revoked', '--json', ...base]);
  assert.ok(JSON.parse(after.stdout).certificates.some((c: { serial: string; reason: string }) => c.serial === serial && c.reason === 'superseded'));
  const again = await runCli(['cert', 'revoke', serial, ...base]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^error: conflict: /);
});

test('cert list with no match prints "no certificates", as the other list commands print "no …", not a bare header', async () => {
  const id = await createApp(node, 'cli-app-without-certs');
  const list = await runCli(['cert', 'list', '--owner', id, ...base]);
  assert.equal(list.code, 0, list.stderr);
  assert.equal(list.stdout, 'no certificates\n');
  assert.deepEqual(JSON.parse((await runCli(['cert', 'list', '--owner', id, '--json', ...base])).stdout), { certificates: [] });
});

test('cert issue with a generated key refuses to print the key to the terminal (usage error, nothing issued)', async () => {
  const r = await runCli(['cert', 'issue', '--dns', 'api.example.org', ...base]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: request.invalid: .*--out-dir/);
});
