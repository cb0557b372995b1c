/**
 * The deployment ARCHITECTURE.md describes for scaling gateways apart from the identity
 * plane: a second Portcullis process serving only the gateway plane (`planes: [gateway]`)
 * on the bench node's own directory (same config, SQLite file and master key; its key
 * ring and routes come from there). The sign-in bench loads it during the same storm as
 * the all-in-one node's gateway, to show what the separation buys.
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { startPortcullis } from '../../src/app.js';
import { silentLogger } from '../../src/core/logger.js';
import type { SigninFixture } from './fixture.js';

const fx = JSON.parse(process.env['FIXTURE_JSON'] ?? '') as SigninFixture;
const port = await new Promise<number>((resolve, reject) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => {
    const p = (s.address() as { port: number }).port;
    s.close(() => resolve(p));
  });
  s.on('error', reject);
});
const config = fx.config.replace(/gateway: 127\.0\.0\.1:\d+/, `gateway: 127.0.0.1:${port}`) + 'planes: [gateway]\n';
const file = join(fx.dir, 'gateway-only.yaml');
writeFileSync(file, config);
const node = await startPortcullis({ configFile: file, logger: silentLogger, env: {} });
process.stdout.write(`LISTENING ${node.urls.gateway}\n`);
process.on('SIGTERM', () => void node.close().finally(() => process.exit(0)));
