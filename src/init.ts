/**
 * `portcullis init --dir DIR`: creates the config file (commented defaults), the
 * master key and admin token files (mode 0600), the SQLite database with its schema,
 * and the first signing keys. Never overwrites anything that exists.
 */
import { chmodSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadConfig, resolveIn } from './core/config/load.js';
import { createFileOnceSync, makeDirectorySync, MakeDirectoryError } from './core/files.js';
import { silentLogger, type Logger } from './core/logger.js';
import { createMasterKeyFile } from './crypto/master-key.js';
import { createAdminTokenFile } from './http/admin-auth.js';
import { openServices } from './app.js';
import { DEFAULT_CONFIG } from './core/config/default-config.js';
import { fsErrorText, PortcullisError } from './core/errors.js';
import { envelopeSecretBox } from './crypto/secret-box.js';
import { fileSignerKind } from './pki/signer.js';

/** The root CA certificate (public) that clients trust: `curl --cacert DIR/ca.pem`. */
export const CA_FILE = 'ca.pem';

export { DEFAULT_CONFIG };

export const CONFIG_FILE = 'portcullis.yaml';


/** Writes the offline root key (0600) whole, never over an existing file; typed errors. */
function writeRootKeyFileOnce(file: string, pem: string): void {
  let created: boolean;
  try {
    created = createFileOnceSync(file, pem, 0o600);
  } catch (cause) {
    const code = (cause as { code?: string }).code;
    throw new PortcullisError(code === 'ENOENT' ? 'config.not-found' : 'internal', `the offline root key file cannot be written in ${dirname(file)}${code === 'ENOENT' ? ' (no such directory)' : ''}`, { cause });
  }
  if (!created) throw new PortcullisError('conflict', 'the offline root key file already exists; choose a new path');
}

export interface InitResult {
  dir: string;
  configFile: string;
  /** The files init made, by absolute path. */
  created: string[];
}

/**
 * @param opts.rootKeyOfflineFile write the new root CA key (PKCS#8 PEM, mode 0600) to this file once instead of storing it;
 *   it is needed again only to sign a new intermediate.
 */
export async function initPortcullis(dir: string, opts: { logger?: Logger; config?: string; rootKeyOfflineFile?: string } = {}): Promise<InitResult> {
  if (opts.rootKeyOfflineFile && existsSync(opts.rootKeyOfflineFile)) throw new PortcullisError('conflict', 'the offline root key file already exists; choose a new path');
  try {
    makeDirectorySync(dir, 0o700);
  } catch (cause) {
    throw new PortcullisError('request.invalid', `directory ${dir} cannot be used: ${cause instanceof MakeDirectoryError ? cause.message : fsErrorText(cause)}`, { cause });
  }
  const created: string[] = [];
  const configFile = join(dir, CONFIG_FILE);
  if (!existsSync(configFile)) {
    try {
      if (createFileOnceSync(configFile, opts.config ?? DEFAULT_CONFIG, 0o644)) created.push(resolve(configFile));
    } catch (cause) {
      throw new PortcullisError('request.invalid', `configuration file ${configFile} cannot be written: ${fsErrorText(cause)}`, { cause });
    }
  }
  const loaded = loadConfig(configFile);
  const masterKeyFile = resolveIn(loaded.dir, loaded.config.masterKeyFile);
  if (createMasterKeyFile(masterKeyFile)) created.push(masterKeyFile);
  const adminTokenFile = resolveIn(loaded.dir, loaded.config.adminTokenFile);
  if (createAdminTokenFile(adminTokenFile)) created.push(adminTokenFile);
  const dbExisted = loaded.config.store.startsWith('sqlite:') && existsSync(resolveIn(loaded.dir, loaded.config.store.slice(7)));
  const s = await openServices(loaded, { logger: opts.logger ?? silentLogger });
  try {
    if (!dbExisted && loaded.config.store.startsWith('sqlite:')) {
      const db = resolveIn(loaded.dir, loaded.config.store.slice(7));
      // Sealed secrets live in it: owner-only, like the key files (SQLite gives -wal/-shm the same mode).
      if (existsSync(db)) chmodSync(db, 0o600);
      created.push(db);
    }
    await s.keys.maintain();
    const offlineFile = opts.rootKeyOfflineFile;
    if (!s.pki.ready) {
      // The root key exists only in memory: it is on disk before the root is stored, so
      // a failed write leaves no root whose key is gone, and init can simply be run again.
      await s.pki.create(fileSignerKind(envelopeSecretBox(s.envelope)), {
        organization: loaded.config.pki.organization,
        ...(loaded.config.pki.permittedDns ? { permittedDns: loaded.config.pki.permittedDns } : {}),
        ...(offlineFile ? { rootKeyOffline: true, saveRootKey: (pem: string) => writeRootKeyFileOnce(offlineFile, pem) } : {}),
      });
      if (offlineFile) created.push(resolve(offlineFile));
    } else if (offlineFile) {
      throw new PortcullisError('conflict', 'this directory already has a CA: --root-key-offline applies only when init creates the root; no key file was written');
    }
    const caFile = join(loaded.dir, CA_FILE);
    if (!existsSync(caFile) && createFileOnceSync(caFile, s.pki.rootPem(), 0o644)) created.push(caFile);
    s.audit.record({ time: s.clock.now(), type: 'portcullis.initialised', actor: 'system', data: { created: created.length } });
    await s.audit.flush();
  } finally {
    await s.ephemeral.close();
    await s.store.close();
  }
  return { dir, configFile, created };
}
