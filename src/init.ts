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
import { DEFAULT_CONFIG } from './core/config/default-config.js';

export { DEFAULT_CONFIG };

export const CONFIG_FILE = 'portcullis.yaml';


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
