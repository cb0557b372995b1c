/**
 * The node under the sign-in benchmark, in its own process: a whole embedded Portcullis
 * (identity + gateway planes, SQLite, in-memory ephemeral state) whose issuer is its
 * identity plane's real URL, one confidential app with a redirect URI, USERS users with
 * the same password (Argon2id, m=19456 t=2 p=1) and a confirmed TOTP factor each, and a
 * gateway route with `require.token` to UPSTREAM_URL (on a thread of its own with
 * GATEWAY_THREAD=1: `gateway.thread`). Writes the fixture as JSON to $OUT
 * before it prints `LISTENING <identity port>`.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { startPortcullis } from '../../src/app.js';
import { silentLogger } from '../../src/core/logger.js';
import { CONFIG_FILE, initPortcullis } from '../../src/init.js';
import { Argon2idHasher } from '../../src/identity/passwords/argon2id.js';
import { tempDir } from '../../test/support/portcullis.js';
import { AUDIENCE, PASSWORD, REDIRECT, codeAt, stepOf, type SigninFixture } from './fixture.js';

const env = (k: string): string => {
  const v = process.env[k];
  if (v === undefined) throw new Error(`${k} is required`);
  return v;
};

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

const out = env('OUT');
const upstream = env('UPSTREAM_URL');
const userCount = Number(env('USERS'));
const [identityPort, gatewayPort, adminPort] = [await freePort(), await freePort(), await freePort()];
const dir = tempDir('portcullis-signin-bench-');
const config = `issuer: http://127.0.0.1:${identityPort}
listen: { identity: 127.0.0.1:${identityPort}, gateway: 127.0.0.1:${gatewayPort}, admin: 127.0.0.1:${adminPort} }
log: { level: silent }
tls: { mode: off }
gateway: { thread: ${process.env['GATEWAY_THREAD'] === '1'} }
routes:
  - { name: bench, match: { pathPrefix: / }, upstream: '${upstream}', require: { token: { audience: '${AUDIENCE}', scopes: ['bench:read'] } } }
`;
await initPortcullis(dir, { config });
const node = await startPortcullis({ configFile: join(dir, CONFIG_FILE), logger: silentLogger, env: {} });
const s = node.services;
const { app, clientSecret } = await s.apps.create({ name: 'bench', audiences: [AUDIENCE], scopes: ['bench:read'], redirectUris: [REDIRECT] }, 'bench');

// Every user gets the same stored hash (made once, by the node's own hasher): the
// benchmark measures verification, and hashing thousands of passwords at start would
// only make the fixture slow. Each user has its own TOTP seed, since a code is accepted
// once per user and time step (RFC 6238 §5.2).
const stored = await new Argon2idHasher().hash(PASSWORD);
const totp = s.identity.factors.find((f) => f.id === 'totp')!;
const users: SigninFixture['users'] = [];
for (let i = 0; i < userCount; i++) {
  const email = `user-${i}@bench.test`;
  const u = await s.identity.users.add({ email }, 'bench');
  await s.store.replacePasswordHash(u.id, null, stored);
  const e = await totp.enroll({ userId: u.id, address: email });
  // The previous step's code confirms it, leaving the current and next steps for sign-ins.
  await totp.confirm({ userId: u.id }, codeAt(e.secretBase32!, stepOf(Date.now()) - 1));
  users.push({ email, totpSecret: e.secretBase32! });
}

const basic = `Basic ${Buffer.from(`${app.clientId}:${clientSecret!}`).toString('base64')}`;
const res = await fetch(`${node.urls.identity}/oauth2/token`, {
  method: 'POST',
  headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
  body: `grant_type=client_credentials&scope=bench%3Aread&resource=${encodeURIComponent(AUDIENCE)}`,
});
if (res.status !== 200) throw new Error(`client_credentials failed: ${res.status} ${await res.text()}`);
const { access_token: token } = (await res.json()) as { access_token: string };
const probe = await fetch(`${node.urls.gateway}/`, { headers: { authorization: `Bearer ${token}` } });
if (probe.status !== 200) throw new Error(`the gateway route refused the bench token: ${probe.status} ${await probe.text()}`);

const fixture: SigninFixture = { issuer: node.urls.identity!, gatewayUrl: node.urls.gateway!, clientId: app.clientId, clientSecret: clientSecret!, token, users, dir, config };
writeFileSync(out, JSON.stringify(fixture));
process.stdout.write(`LISTENING ${identityPort}\n`);
process.on('SIGTERM', () => {
  void node.close().finally(() => {
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  });
});
