/**
 * `portcullis init --dir DIR`: creates the config file (commented defaults), the
 * master key and admin token files (mode 0600), the SQLite database with its schema,
 * and the first signing keys. Never overwrites anything that exists.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, resolveIn } from './core/config/load.js';
import { silentLogger, type Logger } from './core/logger.js';
import { createMasterKeyFile } from './crypto/master-key.js';
import { createAdminTokenFile } from './http/admin-auth.js';
import { openServices } from './app.js';

export const CONFIG_FILE = 'portcullis.yaml';

export const DEFAULT_CONFIG = `# Portcullis configuration. Reference: docs/configuration.md
# Every value can be overridden by an environment variable: PORTCULLIS_<PATH>, with
# __ between path segments, e.g. PORTCULLIS_TOKENS__ACCESS_TOKEN_TTL=5m.
# Strings may use \${env:NAME} and \${file:PATH} (secrets from files).

# The issuer URL: the \`iss\` of every token, and where apps find discovery.
issuer: http://127.0.0.1:8080

listen:
  identity: 127.0.0.1:8080   # discovery, JWKS, token, revoke, introspect
  gateway: 127.0.0.1:8443    # the routes below
  admin: 127.0.0.1:8081      # admin API, metrics, health (keep on loopback)

# Durable store: sqlite:<file> (embedded) or postgres://user@host:5432/db (scale-out).
store: sqlite:./portcullis.db
# Ephemeral state: memory (one node) or redis://127.0.0.1:6379 (many nodes).
ephemeral: memory

masterKeyFile: ./master.key   # 32 random bytes, mode 0600; never in the database
adminTokenFile: ./admin.token # bearer token for the admin API and the CLI

tokens:
  accessTokenTtl: 10m
  signingAlg: ES256           # ES256, EdDSA or RS256
  leeway: 30s

keys:
  rotationInterval: 30d       # how long a signing key signs
  prepublish: 1h              # the next key is in the JWKS this long before it signs

# Gateway routes: requests matching a route are checked, then proxied upstream.
routes: []
#  - name: orders
#    match: { pathPrefix: /orders, methods: [GET, POST] }
#    upstream: http://127.0.0.1:9000
#    require:
#      token: { audience: orders-api, scopes: [orders:read] }
`;

export interface InitResult {
  dir: string;
  configFile: string;
  created: string[];
}

export async function initPortcullis(dir: string, opts: { logger?: Logger; config?: string } = {}): Promise<InitResult> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const created: string[] = [];
  const configFile = join(dir, CONFIG_FILE);
  if (!existsSync(configFile)) {
    writeFileSync(configFile, opts.config ?? DEFAULT_CONFIG, { flag: 'wx', mode: 0o644 });
    created.push(configFile);
  }
  const loaded = loadConfig(configFile);
  const masterKeyFile = resolveIn(loaded.dir, loaded.config.masterKeyFile);
  if (createMasterKeyFile(masterKeyFile)) created.push(masterKeyFile);
  const adminTokenFile = resolveIn(loaded.dir, loaded.config.adminTokenFile);
  if (createAdminTokenFile(adminTokenFile)) created.push(adminTokenFile);
  const dbExisted = loaded.config.store.startsWith('sqlite:') && existsSync(resolveIn(loaded.dir, loaded.config.store.slice(7)));
  const s = await openServices(loaded, { logger: opts.logger ?? silentLogger });
  try {
    if (!dbExisted && loaded.config.store.startsWith('sqlite:')) created.push(resolveIn(loaded.dir, loaded.config.store.slice(7)));
    await s.keys.maintain();
    s.audit.record({ time: s.clock.now(), type: 'portcullis.initialised', actor: 'system', data: { created: created.length } });
    await s.audit.flush();
  } finally {
    await s.ephemeral.close();
    await s.store.close();
  }
  return { dir, configFile, created };
}
