/**
 * RFC 8705 `tls_client_auth` names the app by the URI SAN the Portcullis CA writes,
 * `spiffe://<pki.trustDomain>/app/<client_id>`: on a node without `pki.trustDomain` no client
 * certificate can be issued and none can be mapped to an app, so such an app (client
 * credentials or sign-in) could never authenticate. It used to be registered (201) all the
 * same; it is refused at registration (admin API and `portcullis app create`), naming the
 * field and the setting. An app stored before (or under another configuration) still loads:
 * the node starts and says so in its log.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { startPortcullis } from '../../src/app.js';
import { createLogger, silentLogger } from '../../src/core/logger.js';
import { initDir, startTestNode, TEST_CONFIG, tempDir, type TestNode } from '../admin/node.js';
import { runCli } from '../cli/run.js';

const REDIRECT = 'https://app.example.test/cb';

describe('tls_client_auth on a node without pki.trustDomain', () => {
  let t: TestNode;
  before(async () => {
    t = await startTestNode();
  });
  after(() => t.close());

  for (const [kind, extra] of [['client-credentials', {}], ['sign-in', { redirect_uris: [REDIRECT] }]] as const) {
    test(`a ${kind} app with tls_client_auth → 400 request.invalid naming token_endpoint_auth_method and pki.trustDomain; no app is stored`, async () => {
      const before = (await t.api('/v1/apps')).body.apps.length;
      const r = await t.api('/v1/apps', { body: { name: `tls-${kind}`, audiences: ['orders-api'], scopes: ['read'], token_endpoint_auth_method: 'tls_client_auth', ...extra } });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.code, 'request.invalid');
      assert.match(r.body.detail, /^token_endpoint_auth_method: tls_client_auth needs pki\.trustDomain/);
      assert.equal((await t.api('/v1/apps')).body.apps.length, before);
    });
  }

  test('portcullis app create --auth-method tls_client_auth → request.invalid, exit 1, nothing on stdout', async () => {
    const r = await runCli(['app', 'create', 'tls-cli', '--audience', 'orders-api', '--auth-method', 'tls_client_auth', '--dir', t.dir, '--admin-url', t.admin]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^error: request\.invalid: token_endpoint_auth_method: .*pki\.trustDomain/);
  });

  test('other methods are still registered', async () => {
    const r = await t.api('/v1/apps', { body: { name: 'secret-app', audiences: ['orders-api'], redirect_uris: [REDIRECT] } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  });
});

test('a tls_client_auth app stored under a trust domain still loads when the setting is removed: the node starts and warns', async () => {
  const { configFile } = await initDir(tempDir(), `${TEST_CONFIG}pki: { trustDomain: example.org }\n`);
  let node = await startPortcullis({ configFile, ephemeralPorts: true, logger: silentLogger });
  let clientId: string;
  try {
    clientId = (await node.services.apps.create({ name: 'kept', audiences: ['orders-api'], scopes: [], tokenEndpointAuthMethod: 'tls_client_auth', redirectUris: [REDIRECT] }, 'test')).app.clientId;
  } finally {
    await node.close();
  }
  writeFileSync(configFile, readFileSync(configFile, 'utf8').replace(/^pki: \{ trustDomain: example\.org \}\n/m, ''));
  const lines: Array<{ level: number; msg: string; apps?: string[] }> = [];
  const logger = createLogger('warn', new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) }));
  node = await startPortcullis({ configFile, ephemeralPorts: true, logger });
  try {
    assert.equal(node.services.apps.get(clientId).tokenEndpointAuthMethod, 'tls_client_auth');
    const w = lines.find((l) => /pki\.trustDomain/.test(l.msg));
    assert.ok(w, `no warning: ${JSON.stringify(lines)}`);
    assert.equal(w.level, 40);
    assert.deepEqual(w.apps, [clientId]);
  } finally {
    await node.close();
  }
});
