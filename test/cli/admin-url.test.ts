/**
 * `--admin-url` is checked before anything is sent: a value that is not an http(s) URL is
 * `request.invalid` naming the option (it was `unavailable: … is portcullis start
 * running?`), and one carrying user:password is refused without echoing the password.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { initDir, tempDir } from '../admin/node.js';
import { runCli } from './run.js';

describe('CLI: --admin-url', () => {
  const root = tempDir('portcullis-cli-admin-url-');
  let dir: string;
  before(async () => {
    dir = (await initDir(join(root, 'node'))).dir;
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test('not a URL, or not http(s) → error: request.invalid naming --admin-url, exit 1', async () => {
    for (const url of ['127.0.0.1:8081', 'ftp://127.0.0.1:21', 'http://127.0.0.1:8081/?x=1']) {
      const r = await runCli(['app', 'list', '--dir', dir, '--admin-url', url]);
      assert.equal(r.code, 1, url);
      assert.match(r.stderr, /^error: request\.invalid: --admin-url: /, url);
      assert.equal(r.stdout, '');
    }
  });

  test('attack: user:password in --admin-url → request.invalid, and the password is not echoed', async () => {
    const r = await runCli(['keys', 'list', '--dir', dir, '--admin-url', 'http://admin:hunter2@127.0.0.1:9']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: request\.invalid: --admin-url: /);
    assert.ok(!r.stderr.includes('hunter2'), r.stderr);
  });

  test('attack: user:password in an --admin-url or PORTCULLIS_ADMIN_URL that is not a URL (bad port, unclosed [) → request.invalid, the password not echoed', async () => {
    for (const [args, env, from] of [
      [['--admin-url', 'http://admin:hunter2@127.0.0.1:99999'], {}, '--admin-url'],
      [['--admin-url', 'http://admin:hun/ter2@127.0.0.1:9'], {}, '--admin-url'],
      [[], { PORTCULLIS_ADMIN_URL: 'http://admin:hunter2@[::1' }, 'PORTCULLIS_ADMIN_URL'],
    ] as const) {
      const r = await runCli(['keys', 'list', '--dir', dir, ...args], env);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^error: request\\.invalid: ${from}: expected an http\\(s\\) URL`), r.stderr);
      assert.ok(!r.stderr.includes('hunter2') && !r.stderr.includes('ter2'), r.stderr);
    }
  });
});
