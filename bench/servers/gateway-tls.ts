/**
 * The gateway of a whole embedded Portcullis node over TLS (tls.mode auto, certificates
 * from its own CA), in its own process, for the mTLS-vs-TLS comparison (issue 6). One
 * listener with two routes to the bench upstream: `/plain` without a policy and
 * `/mtls` with `require.clientCertificate { mapToApp: true }`. The TLS listener is the
 * product's: it asks every client for a certificate and lets the route decide. An app
 * and a client certificate for it are created at start; `{ca, cert, key}` (PEM) goes to
 * $OUT before LISTENING <gateway port>.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../test/support/portcullis.js';
import { initPortcullis, CONFIG_FILE } from '../../src/init.js';
import { startPortcullis } from '../../src/app.js';
import { silentLogger } from '../../src/core/logger.js';

const out = process.env['OUT'];
const upstream = process.env['UPSTREAM_URL'];
if (!out || !upstream) throw new Error('OUT and UPSTREAM_URL are required');
const dir = tempDir('portcullis-bench-tls-');
await initPortcullis(dir, {
  config: `issuer: https://127.0.0.1:8080
listen: { identity: 127.0.0.1:0, gateway: 127.0.0.1:0, admin: 127.0.0.1:0 }
tls: { mode: auto }
pki: { trustDomain: bench.example }
log: { level: silent }
routes:
  - name: mtls
    match: { pathPrefix: /mtls }
    upstream: ${upstream}
    require:
      clientCertificate: { mapToApp: true }
  - name: plain
    match: { pathPrefix: /plain }
    upstream: ${upstream}
`,
});
const node = await startPortcullis({ configFile: join(dir, CONFIG_FILE), ephemeralPorts: true, logger: silentLogger, env: {} });
const { app } = await node.services.apps.create({ name: 'bench-mtls', audiences: ['bench-api'], scopes: ['bench:read'] }, 'bench');
const c = await node.services.pki.issue({ profile: 'client', clientId: app.clientId });
writeFileSync(out, JSON.stringify({ ca: node.services.pki.rootPem(), cert: c.chainPem, key: c.privateKeyPem }));
process.stdout.write(`LISTENING ${new URL(node.urls.gateway!).port}\n`);
process.on('SIGTERM', () => {
  void node.close().finally(() => {
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  });
});
