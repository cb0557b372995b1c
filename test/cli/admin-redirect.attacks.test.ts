/**
 * The admin API never redirects, so a redirect where the CLI expects it comes from something
 * else at the admin URL (a proxy or a listener that took the port). fetch followed it: to the
 * same origin with the admin token, to another origin with the body (a new user's password,
 * a PKCS#12 password, a token to revoke), and the target's answer was printed as the admin
 * API's. The CLI now follows no redirect: `request.invalid` naming the status and where it
 * pointed, and nothing is sent there.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { initDir, tempDir } from '../admin/node.js';
import { runCli } from './run.js';

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  body: string;
}

interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

async function listen(handler: (req: IncomingMessage, body: string) => Answer): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const a = handler(req, body);
      res.writeHead(a.status, a.headers ?? {});
      res.end(a.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

describe('CLI: a redirect at the admin URL', () => {
  const root = tempDir('portcullis-cli-redirect-');
  let dir: string;
  let token: string;
  const seen: Seen[] = [];
  let target: { server: Server; port: number };
  let redirector: { server: Server; port: number };
  const fakeUser = JSON.stringify({ user: { id: 'usr_fake', email: 'victim@example.test' }, invite_url: null });

  before(async () => {
    ({ dir, adminToken: token } = await initDir(join(root, 'node')));
    // another origin (another port): it records what reaches it and answers as the admin API would
    target = await listen((req, body) => {
      seen.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization, body });
      return { status: 201, headers: { 'content-type': 'application/json' }, body: fakeUser };
    });
    redirector = await listen((req, body): Answer => {
      if (req.url!.startsWith('/collect')) {
        seen.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization, body });
        return { status: 201, headers: { 'content-type': 'application/json' }, body: fakeUser };
      }
      const where = req.url!.includes('other') ? `http://127.0.0.1:${target.port}/collect` : '/collect';
      return { status: 307, headers: { location: where } };
    });
  });
  after(() => {
    target.server.close();
    redirector.server.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('attack: a 307 to the same origin (which would get the admin token) or to another (the password) → request.invalid, nothing sent there, nothing printed', async () => {
    const password = 'correct horse battery staple 7';
    for (const path of ['', '/other']) {
      const r = await runCli(['user', 'add', 'victim@example.test', '--dir', dir, '--admin-url', `http://127.0.0.1:${redirector.port}${path}`], {}, { stdin: `${password}\n`, timeoutMs: 60_000 });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^error: request\.invalid: the admin API URL answered 307 with a redirect to \S+: not followed/, r.stderr);
      assert.equal(r.stdout, '');
    }
    assert.deepEqual(seen, [], 'a redirect target got a request');
    assert.ok(!JSON.stringify(seen).includes(token));
  });
});
