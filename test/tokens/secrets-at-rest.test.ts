import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startTestNode, basic, postForm } from '../support/portcullis.js';

test('secrets at rest: the database files contain no client secret, no access token and no private key material', async () => {
  const node = await startTestNode();
  const { app, clientSecret } = await node.services.apps.create({ name: 'dump-check', audiences: ['x'], scopes: ['s'] }, 'test');
  const r = await postForm(`${node.urls.identity}/oauth2/token`, { grant_type: 'client_credentials' }, { authorization: basic(app.clientId, clientSecret!) });
  const accessToken: string = r.body.access_token;
  await node.services.keys.rotate();
  const privateDs: string[] = [];
  for (const k of (await node.services.store.listKeys()).filter((k) => k.use === 'sig')) privateDs.push(JSON.parse(await node.services.envelope.decryptString(k.privateJwk, `signing-key:${k.kid}`)).d as string);
  await node.services.audit.flush();
  await node.close();
  const dump = readdirSync(node.dir)
    .filter((f) => f.startsWith('portcullis.db'))
    .map((f) => readFileSync(join(node.dir, f)).toString('latin1'))
    .join('\n');
  assert.ok(dump.length > 0);
  assert.ok(dump.includes(app.clientId), 'sanity: the dump does contain the app');
  assert.ok(!dump.includes(clientSecret!), 'client secret found in the database');
  assert.ok(!dump.includes(accessToken.split('.')[2]!), 'access token found in the database');
  for (const d of privateDs) assert.ok(!dump.includes(d), 'a private key found in the database');
  const master = readFileSync(join(node.dir, 'master.key'), 'utf8').trim();
  assert.ok(!dump.includes(master), 'the master key found in the database');
});

test('secrets at rest: init creates the SQLite database, the master key and the admin token owner-only (mode 0600)', async () => {
  const { statSync } = await import('node:fs');
  const node = await startTestNode();
  try {
    for (const f of ['portcullis.db', 'master.key', 'admin.token']) {
      assert.equal(statSync(join(node.dir, f)).mode & 0o077, 0, `${f} is readable by group or others`);
    }
  } finally {
    await node.stop();
  }
});
