/**
 * `PORTCULLIS_CONFIG` and `PORTCULLIS_ADMIN_URL` steer the CLI (they are reserved as "not
 * configuration" for that): a management command run with them and no flags reaches that
 * node. They were ignored, so the CLI read ./.portcullis and, for a node whose listen.admin
 * port is chosen at start, failed; with a fixed port it could have called another node.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestNode, type TestNode } from '../admin/node.js';
import { runCli } from './run.js';

describe('CLI: PORTCULLIS_CONFIG and PORTCULLIS_ADMIN_URL', () => {
  let t: TestNode;
  before(async () => {
    t = await startTestNode();
    await t.api('/v1/apps', { body: { name: 'env-located', audiences: ['x'] } });
  });
  after(() => t.close());

  test('app list --json with only the two variables set lists this node\'s apps', async () => {
    const r = await runCli(['app', 'list', '--json'], { PORTCULLIS_CONFIG: t.configFile, PORTCULLIS_ADMIN_URL: t.admin });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as Array<{ name: string }>).map((a) => a.name), ['env-located']);
  });

  test('--admin-url wins over PORTCULLIS_ADMIN_URL; a bad PORTCULLIS_ADMIN_URL is request.invalid naming the variable', async () => {
    const ok = await runCli(['app', 'list', '--json', '--admin-url', t.admin], { PORTCULLIS_CONFIG: t.configFile, PORTCULLIS_ADMIN_URL: 'http://127.0.0.1:9' });
    assert.equal(ok.code, 0, ok.stderr);
    const bad = await runCli(['app', 'list'], { PORTCULLIS_CONFIG: t.configFile, PORTCULLIS_ADMIN_URL: 'not a url' });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^error: request\.invalid: PORTCULLIS_ADMIN_URL: /);
  });
});
