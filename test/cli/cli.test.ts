/** The `portcullis` CLI, spawned as a separate process against real directories and a running node. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { issueToken, startTestNode, tempDir, type TestNode } from '../admin/node.js';
import { exitOf, runCli, spawnCli, waitFor } from './run.js';

const noStack = (text: string) => assert.ok(!/^\s+at /m.test(text), `stack trace printed:\n${text}`);

describe('portcullis init and config check (no running node)', () => {
  const root = tempDir('portcullis-cli-');
  after(() => rmSync(root, { recursive: true, force: true }));

  test('init creates the directory; init twice never overwrites (file contents unchanged)', async () => {
    const dir = join(root, 'node');
    const first = await runCli(['init', '--dir', dir]);
    assert.equal(first.code, 0, first.stderr);
    for (const f of ['portcullis.yaml', 'master.key', 'admin.token', 'portcullis.db']) assert.match(first.stdout, new RegExp(`created .*${f.replace('.', '\\.')}`));
    const files = ['portcullis.yaml', 'master.key', 'admin.token'];
    const before = files.map((f) => readFileSync(join(dir, f)));
    writeFileSync(join(dir, 'portcullis.yaml'), `${readFileSync(join(dir, 'portcullis.yaml'), 'utf8')}# operator edit\n`);
    before[0] = readFileSync(join(dir, 'portcullis.yaml'));
    const second = await runCli(['init', '--dir', dir]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /already initialised; nothing changed/);
    files.forEach((f, i) => assert.deepEqual(readFileSync(join(dir, f)), before[i], `${f} changed`));
  });

  test('config check on a valid directory prints ok', async () => {
    const dir = join(root, 'valid');
    assert.equal((await runCli(['init', '--dir', dir])).code, 0);
    const r = await runCli(['config', 'check', '--dir', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'ok\n');
  });

  test('config check on a malformed config prints the path of each error and exits 1', async () => {
    const file = join(root, 'bad.yaml');
    writeFileSync(file, 'issuer: not-a-url\nlisten: { admin: "nohostport" }\ntokens: { accessTokenTtl: soon }\nroutes:\n  - name: orders\n    match: { pathPrefix: orders }\n    upstream: ftp://x\n    surprise: 1\n');
    const r = await runCli(['config', 'check', '--config', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: config\.invalid: /);
    for (const path of ['issuer:', 'listen.admin:', 'tokens.accessTokenTtl:', 'routes[0].match.pathPrefix:', 'routes[0].upstream:', 'routes[0]: unknown key "surprise"']) {
      assert.ok(r.stderr.includes(path), `missing ${path} in:\n${r.stderr}`);
    }
    noStack(r.stderr);
  });

  test('config check on invalid YAML → config.parse with the line; on a missing file → config.not-found', async () => {
    const file = join(root, 'broken.yaml');
    writeFileSync(file, 'issuer: http://x\nlisten:\n  admin: [unclosed\n');
    const r = await runCli(['config', 'check', '--config', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: config\.parse: .*line \d+/);
    const missing = await runCli(['config', 'check', '--dir', join(root, 'nowhere')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error: config\.not-found: /);
  });

  test('config check: a directory as --config, an unreadable ${file:} reference, port 99999 → typed errors naming the file or key, exit 1', async () => {
    const asDir = await runCli(['config', 'check', '--config', root]);
    assert.equal(asDir.code, 1);
    assert.equal(asDir.stderr, `error: config.invalid: configuration file ${root} cannot be read: is a directory (EISDIR)\n`);
    const file = join(root, 'refs.yaml');
    writeFileSync(file, `issuer: "\${file:${root}}"\n`);
    const ref = await runCli(['config', 'check', '--config', file]);
    assert.equal(ref.code, 1);
    assert.equal(ref.stderr, `error: config.invalid: issuer: secret file ${root} cannot be read: is a directory (EISDIR)\n`);
    writeFileSync(file, 'listen: { admin: "127.0.0.1:99999" }\n');
    const port = await runCli(['config', 'check', '--config', file]);
    assert.equal(port.code, 1);
    assert.match(port.stderr, /^error: config\.invalid: invalid configuration:\n  listen\.admin: expected a port from 0 to 65535, got 99999 \(line 1\)\n$/);
  });

  test('cert issue --csr / --p12-password-file and ca export --out with a missing file → request.invalid naming the option, not internal', async () => {
    const dir = join(root, 'files');
    assert.equal((await runCli(['init', '--dir', dir])).code, 0);
    const csr = await runCli(['cert', 'issue', '--dns', 'a.example', '--csr', '/nonexistent/x.csr', '--dir', dir]);
    assert.equal(csr.code, 1);
    assert.equal(csr.stderr, 'error: request.invalid: --csr /nonexistent/x.csr: no such file or directory (ENOENT)\n');
    const p12 = await runCli(['cert', 'issue', '--dns', 'a.example', '--p12-password-file', '/nonexistent/pw', '--out-dir', join(root, 'certs'), '--dir', dir]);
    assert.equal(p12.code, 1);
    assert.equal(p12.stderr, 'error: request.invalid: --p12-password-file /nonexistent/pw: no such file or directory (ENOENT)\n');
    const out = await runCli(['ca', 'export', '--out', '/nonexistent/dir/x.pem', '--dir', dir]);
    assert.equal(out.code, 1);
    assert.equal(out.stderr, 'error: request.invalid: --out /nonexistent/dir/x.pem: no such file or directory (ENOENT)\n');
  });

  test('a management command with no node running says to run `portcullis start`, exit 1, no stack trace', async () => {
    const dir = join(root, 'valid');
    const r = await runCli(['app', 'list', '--dir', dir, '--admin-url', 'http://127.0.0.1:9']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: unavailable: cannot reach the admin API at http:\/\/127\.0\.0\.1:9 .*is `portcullis start` running\?/);
    noStack(r.stderr);
  });
});

describe('portcullis app/keys/audit against a running node', () => {
  let t: TestNode;
  let opts: string[];
  before(async () => {
    t = await startTestNode();
    opts = ['--dir', t.dir, '--admin-url', t.admin];
  });
  after(() => t.close());

  test('app create --json prints client_id and client_secret once; show/list never print the secret', async () => {
    const r = await runCli(['app', 'create', 'orders', '--audience', 'orders-api', '--audience', 'billing-api', '--scope', 'orders:read', 'orders:write', '--json', ...opts]);
    assert.equal(r.code, 0, r.stderr);
    const created = JSON.parse(r.stdout);
    assert.equal(typeof created.client_id, 'string');
    assert.equal(typeof created.client_secret, 'string');
    assert.deepEqual(created.app.audiences, ['orders-api', 'billing-api']);
    assert.deepEqual(created.app.scopes, ['orders:read', 'orders:write']);
    assert.ok(await issueToken(t.identity, created.client_id, created.client_secret));
    for (const args of [['app', 'show', created.client_id], ['app', 'show', created.client_id, '--json'], ['app', 'list'], ['app', 'list', '--json']]) {
      const out = await runCli([...args, ...opts]);
      assert.equal(out.code, 0, out.stderr);
      assert.ok(out.stdout.includes(created.client_id));
      assert.ok(!out.stdout.includes(created.client_secret), `${args.join(' ')} printed the secret`);
    }
  });

  test('app create (text) prints client_id and client_secret lines; the secret works', async () => {
    const r = await runCli(['app', 'create', 'text-app', '--audience', 'a', ...opts]);
    assert.equal(r.code, 0, r.stderr);
    const id = /^client_id:\s+(\S+)$/m.exec(r.stdout)?.[1];
    const secret = /^client_secret:\s+(\S+)$/m.exec(r.stdout)?.[1];
    assert.ok(id && secret, r.stdout);
    assert.match(r.stderr, /not shown again/);
    assert.ok(await issueToken(t.identity, id, secret));
  });

  test('app revoke-tokens: the token issued before is no longer active', async () => {
    const created = JSON.parse((await runCli(['app', 'create', 'revokee', '--audience', 'x', '--json', ...opts])).stdout);
    const token = await issueToken(t.identity, created.client_id, created.client_secret);
    assert.equal((await t.api('/v1/tokens/introspect', { body: { token } })).body.active, true);
    const r = await runCli(['app', 'revoke-tokens', created.client_id, '--json', ...opts]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(JSON.parse(r.stdout).tokens_revoked_before);
    assert.deepEqual((await t.api('/v1/tokens/introspect', { body: { token } })).body, { active: false });
  });

  test('app disable/enable/rotate-secret through the CLI; unknown id → error: not-found, exit 1', async () => {
    const created = JSON.parse((await runCli(['app', 'create', 'lifecycle', '--audience', 'x', '--json', ...opts])).stdout);
    assert.equal(JSON.parse((await runCli(['app', 'disable', created.client_id, '--json', ...opts])).stdout).status, 'disabled');
    assert.equal(JSON.parse((await runCli(['app', 'enable', created.client_id, '--json', ...opts])).stdout).status, 'active');
    const rotated = JSON.parse((await runCli(['app', 'rotate-secret', created.client_id, '--json', ...opts])).stdout);
    assert.notEqual(rotated.client_secret, created.client_secret);
    await assert.rejects(issueToken(t.identity, created.client_id, created.client_secret), /401/);
    const missing = await runCli(['app', 'show', 'no-such-app', ...opts]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error: not-found: no app with client_id no-such-app/);
    noStack(missing.stderr);
  });

  test('app create --serves and app set-serves: the audiences an app serves as a resource server, shown by app show', async () => {
    const r = await runCli(['app', 'create', 'orders-service', '--audience', 'audit-api', '--serves', 'orders-api', '--serves', 'billing-api', '--json', ...opts]);
    assert.equal(r.code, 0, r.stderr);
    const created = JSON.parse(r.stdout);
    assert.deepEqual(created.app.served_audiences, ['orders-api', 'billing-api']);
    const shown = await runCli(['app', 'show', created.client_id, ...opts]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^serves:\s+orders-api billing-api$/m);

    const set = await runCli(['app', 'set-serves', created.client_id, 'orders-api', ...opts]);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout, `${created.client_id} serves: orders-api\n`);
    assert.deepEqual(JSON.parse((await runCli(['app', 'show', created.client_id, '--json', ...opts])).stdout).served_audiences, ['orders-api']);

    const cleared = await runCli(['app', 'set-serves', created.client_id, '--json', ...opts]);
    assert.equal(cleared.code, 0, cleared.stderr);
    assert.deepEqual(JSON.parse(cleared.stdout).served_audiences, []);
    assert.match((await runCli(['app', 'show', created.client_id, ...opts])).stdout, /^serves:\s+-$/m);
    const plain = JSON.parse((await runCli(['app', 'create', 'serves-nothing', '--audience', 'x', '--json', ...opts])).stdout);
    assert.deepEqual(plain.app.served_audiences, [], 'default: serves no audience');
  });

  test('app create with an invalid audience → error: request.invalid naming the field, exit 1', async () => {
    const r = await runCli(['app', 'create', 'bad', '--audience', '', ...opts]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: request\.invalid: /);
    assert.match(r.stderr, /audiences\[0\]: /);
  });

  test('keys rotate changes the signing kid (and prints it); keys list --json shows it active', async () => {
    const before = (await t.api('/v1/keys')).body.signing_kid;
    const r = await runCli(['keys', 'rotate', ...opts]);
    assert.equal(r.code, 0, r.stderr);
    const printed = /signing key is now (\S+)/.exec(r.stdout)?.[1];
    const after = (await t.api('/v1/keys')).body.signing_kid;
    assert.notEqual(after, before);
    assert.equal(printed, after);
    const list = JSON.parse((await runCli(['keys', 'list', '--json', ...opts])).stdout);
    assert.equal(list.signing_kid, after);
    assert.equal(list.keys.find((k: { kid: string }) => k.kid === before).state, 'retired');
  });

  test('audit tail -n 2 prints the two newest rows; --follow prints new rows until SIGINT, then exits 0', async () => {
    const r = await runCli(['audit', 'tail', '-n', '2', ...opts]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').length, 2);
    const follow = spawnCli(['audit', 'tail', '-n', '1', '--follow', ...opts]);
    try {
      await waitFor(follow.stdout!, /#\d+ /);
      await t.api('/v1/apps', { body: { name: 'followed', audiences: ['x'] } });
      await waitFor(follow.stdout!, /app\.created admin .*"name":"followed"/);
    } finally {
      follow.kill('SIGINT');
    }
    assert.equal(await exitOf(follow), 0);
  });

  test('audit verify → ok; a row tampered in the SQLite file → exit 1 naming the row', async () => {
    const ok = await runCli(['audit', 'verify', ...opts]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^ok: \d+ rows verified/);
    const db = new Database(join(t.dir, 'portcullis.db'));
    try {
      db.prepare("UPDATE audit_log SET data = '{\"name\":\"renamed\"}' WHERE seq = 2").run();
    } finally {
      db.close();
    }
    const broken = await runCli(['audit', 'verify', ...opts]);
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /^error: audit\.chain-broken: row 2 was altered \(first broken row: 2/);
    noStack(broken.stderr);
  });
});

describe('portcullis start', () => {
  test('start --init serves; SIGTERM → graceful stop, exit 0, nothing lost (queued audit events are written)', async () => {
    const dir = join(tempDir('portcullis-start-'), 'node');
    const child = spawnCli(['start', '--dir', dir, '--init'], {
      PORTCULLIS_LISTEN__ADMIN: '127.0.0.1:0',
      PORTCULLIS_LISTEN__IDENTITY: '127.0.0.1:0',
      PORTCULLIS_PLANES: '[identity, admin]',
      PORTCULLIS_LOG__LEVEL: 'warn',
      PORTCULLIS_TLS__MODE: 'off',
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    try {
      await waitFor(child.stderr!, /serving .*admin (http:\/\/\S+)/);
      const admin = /admin (http:\/\/[0-9.:]+)/.exec(stderr)![1]!;
      const identity = /identity (http:\/\/[0-9.:]+)/.exec(stderr)![1]!;
      const token = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
      const res = await fetch(`${admin}/v1/apps`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'survivor', audiences: ['x'] }) });
      assert.equal(res.status, 201);
      const app = (await res.json()) as { client_id: string; client_secret: string };
      await issueToken(identity, app.client_id, app.client_secret);
      child.kill('SIGTERM');
      assert.equal(await exitOf(child), 0, stderr);
      assert.match(stderr, /SIGTERM received; stopping/);
      const db = new Database(join(dir, 'portcullis.db'), { readonly: true });
      try {
        assert.ok(db.prepare('SELECT 1 FROM apps WHERE client_id = ?').get(app.client_id), 'the app survived');
        const types = (db.prepare('SELECT type FROM audit_log WHERE client_id = ? ORDER BY seq').all(app.client_id) as Array<{ type: string }>).map((r) => r.type);
        assert.deepEqual(types, ['app.created', 'token.issued']);
      } finally {
        db.close();
      }
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(join(dir, '..'), { recursive: true, force: true });
    }
  });
});
