/** Secrets never leak into logs: a node logging at trace level through every token path. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { HEAD_KEY_CONTEXT, HEAD_KEY_SETTING } from '../../src/audit/head-key.js';
import { createLogger } from '../../src/core/logger.js';
import { startTestNode, testConfig, basic, postForm } from '../support/portcullis.js';

test('logs: at trace level, no client secret, access token, admin token, master key or audit key appears in any log line', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const node = await startTestNode({
    logger: createLogger('trace', sink),
    config: testConfig(`routes:
  - name: orders
    match: { pathPrefix: /orders }
    upstream: http://127.0.0.1:9
    require:
      token: { audience: orders-api }
`),
  });
  try {
    const { app, clientSecret } = await node.services.apps.create({ name: 'logged', audiences: ['orders-api'], scopes: ['a'] }, 'test');
    const ok = await postForm(`${node.urls.identity}/oauth2/token`, { grant_type: 'client_credentials' }, { authorization: basic(app.clientId, clientSecret!) });
    const token: string = ok.body.access_token;
    await postForm(`${node.urls.identity}/oauth2/token`, { grant_type: 'client_credentials', client_id: app.clientId, client_secret: `${clientSecret}x` });
    await postForm(`${node.urls.identity}/oauth2/introspect`, { token }, { authorization: basic(app.clientId, clientSecret!) });
    await fetch(`${node.urls.gateway}/orders/1`, { headers: { authorization: `Bearer ${token}` } }); // upstream down → 502, logged
    await fetch(`${node.urls.gateway}/orders/1`, { headers: { authorization: `Bearer ${token}x` } });
    await fetch(`${node.urls.admin}/v1/apps`, { headers: { authorization: `Bearer ${node.adminToken}` } });
    await fetch(`${node.urls.admin}/v1/apps`, { headers: { authorization: `Bearer ${node.adminToken}x` } });
    await postForm(`${node.urls.identity}/oauth2/revoke`, { token }, { authorization: basic(app.clientId, clientSecret!) });
    await node.services.audit.flush();
    const text = lines.join('');
    assert.ok(lines.length > 0, 'the node logged something at trace level');
    const master = readFileSync(join(node.dir, 'master.key'), 'utf8').trim();
    const auditKey = (await node.services.envelope.decrypt((await node.services.store.getSetting(HEAD_KEY_SETTING))!, HEAD_KEY_CONTEXT)).subarray(1, 33);
    for (const [what, secret] of [
      ['audit key (hex)', auditKey.toString('hex')],
      ['audit key (base64)', auditKey.toString('base64')],
      ['audit key (base64url)', auditKey.toString('base64url')],
      ['client secret', clientSecret!],
      ['access token signature', token.split('.')[2]!],
      ['admin token', node.adminToken],
      ['master key', master],
    ] as const) {
      assert.ok(!text.includes(secret), `${what} found in the logs`);
    }
  } finally {
    await node.stop();
  }
});
