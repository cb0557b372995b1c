/**
 * A Portcullis node serving transit on its admin plane (plain HTTP on loopback) for the
 * transit benchmark, in its own process: key `bench` (aes256-gcm). Writes
 * `{adminToken, plaintext, ciphertext}` (base64, 1 KiB) to $OUT before it prints LISTENING.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../test/support/portcullis.js';
import { initPortcullis, CONFIG_FILE } from '../../src/init.js';
import { startPortcullis } from '../../src/app.js';
import { silentLogger } from '../../src/core/logger.js';

const out = process.env['OUT'];
if (!out) throw new Error('OUT is required');
const dir = tempDir('portcullis-bench-transit-');
await initPortcullis(dir, { config: 'listen: { identity: 127.0.0.1:0, gateway: 127.0.0.1:0, admin: 127.0.0.1:0 }\nplanes: [admin]\nencryption: { keyTypes: [P-256] }\nlog: { level: silent }\n' });
const node = await startPortcullis({ configFile: join(dir, CONFIG_FILE), ephemeralPorts: true, logger: silentLogger, env: {} });
await node.services.transit.createKey('bench', 'aes256-gcm');
const plaintext = randomBytes(Number(process.env['SIZE'] ?? 1024));
const ciphertext = await node.services.transit.encrypt('bench', plaintext);
const adminToken = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
writeFileSync(out, JSON.stringify({ adminToken, plaintext: plaintext.toString('base64'), ciphertext }));
process.stdout.write(`LISTENING ${new URL(node.urls.admin!).port}\n`);
process.on('SIGTERM', () => {
  void node.close().finally(() => {
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  });
});
