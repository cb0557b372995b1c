/**
 * A whole embedded Portcullis node (identity plane only) under benchmark, in its own
 * process: a fresh directory, one app. Writes `{clientId, clientSecret, token}` as JSON
 * to $OUT before it prints LISTENING, so scenarios can authenticate.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../test/support/portcullis.js';
import { initPortcullis, CONFIG_FILE } from '../../src/init.js';
import { startPortcullis } from '../../src/app.js';
import { silentLogger } from '../../src/core/logger.js';

const out = process.env['OUT'];
if (!out) throw new Error('OUT is required');
const dir = tempDir('portcullis-bench-');
await initPortcullis(dir, { config: 'issuer: http://127.0.0.1:8080\nlisten: { identity: 127.0.0.1:0, gateway: 127.0.0.1:0, admin: 127.0.0.1:0 }\nplanes: [identity]\ntls: { mode: "off" }\nlog: { level: silent }\n' });
const node = await startPortcullis({ configFile: join(dir, CONFIG_FILE), ephemeralPorts: true, logger: silentLogger, env: {} });
const { app, clientSecret } = await node.services.apps.create({ name: 'bench', audiences: ['bench-api'], scopes: ['bench:read'] }, 'bench');
const basic = `Basic ${Buffer.from(`${app.clientId}:${clientSecret}`).toString('base64')}`;
const res = await fetch(`${node.urls.identity}/oauth2/token`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
const { access_token: token } = (await res.json()) as { access_token: string };
writeFileSync(out, JSON.stringify({ clientId: app.clientId, clientSecret, basic, token }));
process.stdout.write(`LISTENING ${new URL(node.urls.identity!).port}\n`);
process.on('SIGTERM', () => {
  void node.close().finally(() => {
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  });
});
