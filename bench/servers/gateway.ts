/**
 * The gateway under benchmark, in its own process: createGateway on node:http with one
 * route to the bench upstream, with or without `require.token` (MODE=none|token).
 */
import { readFileSync } from 'node:fs';
import { createPublicKey } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import type { AuditEventInput } from '../../src/audit/store.js';
import { systemClock } from '../../src/core/clock.js';
import { configSchema } from '../../src/core/config/schema.js';
import { silentLogger } from '../../src/core/logger.js';
import { attachGateway, createGateway, gatewayServerOptions } from '../../src/gateway/gateway.js';
import { RevocationSet } from '../../src/tokens/revocation-set.js';

const env = (k: string): string => {
  const v = process.env[k];
  if (v === undefined) throw new Error(`${k} is required`);
  return v;
};
const mode = env('MODE');
const key = { kid: env('KID'), alg: 'ES256', key: createPublicKey(readFileSync(env('PUBLIC_KEY_PEM_FILE'), 'utf8')) };
const cfg = configSchema.parse({
  issuer: env('ISSUER'),
  routes: [
    {
      name: 'bench',
      match: { pathPrefix: '/' },
      upstream: env('UPSTREAM_URL'),
      ...(mode === 'token' ? { require: { token: { audience: 'bench-api', scopes: ['bench:read'] } } } : {}),
    },
  ],
});
let audited = 0;
const gw = createGateway({
  routes: cfg.routes,
  gateway: cfg.gateway,
  issuer: cfg.issuer,
  keys: { getVerificationKey: (kid) => (kid === key.kid ? key : undefined) },
  revocations: new RevocationSet(),
  audit: { record: (_e: AuditEventInput) => void audited++ },
  clock: systemClock,
  leewayMs: cfg.tokens.leeway,
  maxTokenLifetimeMs: cfg.tokens.maxTokenLifetime,
  logger: silentLogger,
  metrics: new Registry(),
});
const server = http.createServer(gatewayServerOptions(cfg.gateway), gw.handle);
attachGateway(server, gw);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
