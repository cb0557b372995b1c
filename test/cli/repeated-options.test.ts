/**
 * A single-valued option given twice is an operator's mistake (a script joining defaults
 * and overrides): it was accepted and the last one silently won. Now: `error: usage:
 * --X given twice`, exit 1, nothing run. Options meant to repeat (`<values...>`, or
 * collected like `--dns`) still collect every value.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startTestNode, tempDir, type TestNode } from '../admin/node.js';
import { runCli } from './run.js';

const USAGE_HINT = '(add --help for usage)\n';

describe('a single-valued option given twice is refused before anything runs', () => {
  const root = tempDir('portcullis-repeat-');
  after(() => rmSync(root, { recursive: true, force: true }));

  const cases: [string, string[]][] = [
    ['--config', ['config', 'check', '--config', join(root, 'x.yaml'), '--config', join(root, 'y.yaml')]],
    ['--dir', ['config', 'check', '--dir', join(root, 'a'), '--dir', join(root, 'b')]],
    ['--dir', ['config', 'check', `--dir=${join(root, 'a')}`, '--dir', join(root, 'b')]],
    ['--dir', ['init', '--dir', join(root, 'a'), `--dir=${join(root, 'b')}`]],
    ['--type', ['app', 'create', 'web', '--audience', 'api', '--type', 'public', '--type', 'confidential']],
    ['--auth-method', ['app', 'create', 'web', '--audience', 'api', '--auth-method=client_secret_post', '--auth-method=private_key_jwt']],
    ['--version', ['transit', 'encrypt', 'pii', 'aGVsbG8=', '--version', '1', '--version', '2']],
    ['--lines', ['audit', 'tail', '-n', '5', '--lines', '6']],
    ['--lines', ['audit', 'tail', '-n5', '-n', '6']],
    ['--reason', ['cert', 'revoke', '01', '--reason', 'superseded', '--reason', 'keyCompromise']],
    ['--admin-url', ['app', 'list', '--admin-url', 'http://127.0.0.1:1', '--admin-url', 'http://127.0.0.1:2']],
  ];
  for (const [flag, args] of cases) {
    test(`${args.join(' ')} → error: usage: ${flag} given twice, exit 1`, async () => {
      const r = await runCli(args);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, `error: usage: ${flag} given twice\n${USAGE_HINT}`);
    });
  }

  test('a boolean flag given twice is refused too (--json --json, -f --follow, --mfa-required and --chain twice)', async () => {
    for (const [flag, args] of [
      ['--json', ['app', 'list', '--json', '--json']],
      ['--follow', ['audit', 'tail', '-f', '--follow']],
      ['--mfa-required', ['app', 'create', 'web', '--audience', 'api', '--mfa-required', '--mfa-required']],
      ['--chain', ['ca', 'export', '--chain', '--dir', join(root, 'never'), '--chain']],
    ] as const) {
      const r = await runCli([...args]);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, `error: usage: ${flag} given twice\n${USAGE_HINT}`);
    }
  });

  test('init --dir A --dir B creates neither directory', async () => {
    const r = await runCli(['init', '--dir', join(root, 'first'), '--dir', join(root, 'second')]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `error: usage: --dir given twice\n${USAGE_HINT}`);
    assert.throws(() => readFileSync(join(root, 'first', 'portcullis.yaml')), { code: 'ENOENT' });
    assert.throws(() => readFileSync(join(root, 'second', 'portcullis.yaml')), { code: 'ENOENT' });
  });
});

describe('options meant to repeat still collect every value', () => {
  let t: TestNode;
  const cli = (...args: string[]) => runCli([...args, '--dir', t.dir, '--admin-url', t.admin]);
  before(async () => {
    t = await startTestNode();
  });
  after(() => t.close());

  test('app create --audience/--scope/--serves/--redirect-uri given several times keep every value', async () => {
    const r = await cli(
      'app', 'create', 'multi', '--json',
      '--audience', 'api-a', '--audience=api-b',
      '--scope', 'read', '--scope', 'write',
      '--serves', 'api-a', '--serves', 'api-c',
      '--type', 'public',
      '--redirect-uri', 'https://a.example/cb', '--redirect-uri', 'https://b.example/cb',
    );
    assert.equal(r.code, 0, r.stderr);
    const { app } = JSON.parse(r.stdout);
    assert.deepEqual(app.audiences, ['api-a', 'api-b']);
    assert.deepEqual(app.scopes, ['read', 'write']);
    assert.deepEqual(app.served_audiences, ['api-a', 'api-c']);
    assert.deepEqual(app.redirect_uris, ['https://a.example/cb', 'https://b.example/cb']);
  });

  test('cert issue --dns a --dns b --ip x --ip y puts every name in the certificate', async () => {
    const out = join(t.dir, 'certs');
    const r = await cli('cert', 'issue', '--dns', 'a.example', '--dns', 'b.example', '--ip', '127.0.0.1', '--ip=10.0.0.1', '--out-dir', out);
    assert.equal(r.code, 0, r.stderr);
    const serial = /^serial (\S+),/m.exec(r.stdout)![1]!;
    const cert = new X509Certificate(readFileSync(join(out, `${serial}.pem`)));
    assert.equal(cert.subjectAltName, 'DNS:a.example, DNS:b.example, IP Address:127.0.0.1, IP Address:10.0.0.1');
  });
});
