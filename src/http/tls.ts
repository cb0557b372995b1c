/**
 * TLS of the identity plane and the gateway (RFC 8446 / 5246: TLS 1.3 and 1.2 only).
 *
 * `auto`: a server certificate from the built-in CA for the listen hosts (DNS and IP
 * SANs), renewed after two thirds of its lifetime and swapped into every listening
 * server with `setSecureContext` — no restart, existing connections keep theirs.
 * `files`: a PEM chain and key from disk, re-read when they change. Both ask for (but
 * do not require) a client certificate, so mTLS routes and RFC 8705 client
 * authentication work beside ordinary clients; the policy decides, not the handshake.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { createSecureContext, type SecureContextOptions, type Server as TlsServer, type TlsOptions } from 'node:tls';
import type { Clock } from '../core/clock.js';
import type { Config } from '../core/config/schema.js';
import { fsErrorText, PortcullisError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { CertificateAuthority } from '../pki/authority.js';

export interface ServerCertificateInfo {
  serial: string | null;
  notAfter: number;
}

export interface ServerTls {
  /** Options for `https.createServer` / fastify `https`. */
  serverOptions(): TlsOptions;
  /** Servers whose secure context is replaced on renewal. */
  attach(server: TlsServer): void;
  /** Renews when due; true when a new certificate was installed. */
  check(): Promise<boolean>;
  current(): ServerCertificateInfo;
  /** How often `check` should run. */
  readonly checkIntervalMs: number;
}

function hostOf(hp: string): string {
  const i = hp.lastIndexOf(':');
  return hp.slice(0, i).replace(/^\[|\]$/g, '');
}

/** The names a node's server certificate carries: listen hosts, issuer host, configured extras, loopback. */
export function serverNames(config: Config): { dnsNames: string[]; ipAddresses: string[] } {
  const names = new Set<string>(['localhost', '127.0.0.1', ...config.tls.hosts]);
  for (const hp of [config.listen.identity, config.listen.gateway]) {
    const h = hostOf(hp);
    if (h === '0.0.0.0' || h === '::') {
      names.add(hostname().toLowerCase());
      if (h === '::') names.add('::1');
    } else names.add(h.toLowerCase());
  }
  names.add(new URL(config.issuer).hostname.replace(/^\[|\]$/g, '').toLowerCase());
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  for (const n of names) (isIP(n) ? ipAddresses : dnsNames).push(n);
  return { dnsNames, ipAddresses };
}

function baseOptions(config: Config, caPem: string | undefined): TlsOptions {
  return {
    minVersion: config.tls.minVersion,
    // Ask for a client certificate without requiring one; the route policy decides.
    requestCert: true,
    rejectUnauthorized: false,
    ...(caPem ? { ca: [caPem] } : {}),
  };
}

class AutoTls implements ServerTls {
  private cert!: string;
  private key!: string;
  private serial: string | null = null;
  private issuedAt = 0;
  private notAfter = 0;
  private readonly servers = new Set<TlsServer>();
  readonly checkIntervalMs: number;

  constructor(
    private readonly config: Config,
    private readonly pki: CertificateAuthority,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.checkIntervalMs = Math.max(250, Math.min(60_000, Math.floor(config.pki.serverCertLifetime / 12)));
  }

  async issue(): Promise<void> {
    const c = await this.pki.issue({ profile: 'server', ...serverNames(this.config), lifetimeMs: this.config.pki.serverCertLifetime });
    const ca = this.pki.issuing();
    // Serve the leaf and the intermediate; clients hold the root (portcullis ca export).
    this.cert = c.certPem + ca.chainPem.slice(0, ca.chainPem.indexOf('-----BEGIN', 1));
    this.key = c.privateKeyPem!;
    this.serial = c.serial;
    this.issuedAt = this.clock.now();
    this.notAfter = c.notAfter;
  }

  serverOptions(): TlsOptions {
    return { ...baseOptions(this.config, this.pki.rootPem()), cert: this.cert, key: this.key };
  }

  attach(server: TlsServer): void {
    this.servers.add(server);
    server.once('close', () => this.servers.delete(server));
  }

  async check(): Promise<boolean> {
    const lifetime = this.notAfter - this.issuedAt;
    if (this.clock.now() < this.issuedAt + (lifetime * 2) / 3) return false;
    await this.issue();
    const ctx: SecureContextOptions = this.serverOptions();
    for (const s of this.servers) s.setSecureContext(ctx);
    this.logger.info({ serial: this.serial, notAfter: new Date(this.notAfter).toISOString() }, 'server certificate renewed');
    return true;
  }

  current(): ServerCertificateInfo {
    return { serial: this.serial, notAfter: this.notAfter };
  }
}

/** The files of `tls.mode: files`: as configured (for messages) and resolved (to read). */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** Resolves a configured path against the config directory. */
  resolve(file: string): string;
}

/** The files of `tls.mode: files` (undefined in the other modes); `config.invalid` when one is not set. */
export function tlsFilesOf(config: Config, resolve: (file: string) => string): TlsFiles | undefined {
  if (config.tls.mode !== 'files') return undefined;
  if (!config.tls.certFile || !config.tls.keyFile) throw new PortcullisError('config.invalid', 'tls.mode files needs tls.certFile and tls.keyFile');
  return { certFile: config.tls.certFile, keyFile: config.tls.keyFile, resolve };
}

function readTlsFile(setting: 'tls.certFile' | 'tls.keyFile', shown: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (cause) {
    throw new PortcullisError('config.not-found', `${setting}: file ${shown} cannot be read: ${fsErrorText(cause)}`, { cause });
  }
}

/**
 * Reads the certificate chain and key of `tls.mode: files` and checks that a listener
 * can serve them: each failure names the setting and the file (missing or unreadable:
 * `config.not-found`; no PEM of its kind, or a key that is not the certificate's:
 * `config.invalid`), where OpenSSL would only say `PEM routines::no start line`.
 *
 * @example const { cert, key } = readTlsFiles({ certFile: 'tls/cert.pem', keyFile: 'tls/key.pem', resolve: (f) => resolveIn(dir, f) });
 */
export function readTlsFiles(f: TlsFiles): { cert: string; key: string } {
  const cert = readTlsFile('tls.certFile', f.certFile, f.resolve(f.certFile));
  const key = readTlsFile('tls.keyFile', f.keyFile, f.resolve(f.keyFile));
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (cause) {
    throw new PortcullisError('config.invalid', `tls.certFile: ${f.certFile} holds no PEM certificate (the chain, leaf first)`, { cause });
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (cause) {
    throw new PortcullisError('config.invalid', `tls.keyFile: ${f.keyFile} holds no PEM private key (an encrypted key is not supported)`, { cause });
  }
  if (!leaf.checkPrivateKey(privateKey)) throw new PortcullisError('config.invalid', `tls.keyFile: ${f.keyFile} is not the private key of the certificate in tls.certFile (${f.certFile})`);
  try {
    createSecureContext({ cert, key });
  } catch (cause) {
    throw new PortcullisError('config.invalid', `tls.certFile, tls.keyFile: ${f.certFile} and ${f.keyFile} cannot be served: ${(cause as Error).message}`, { cause });
  }
  return { cert, key };
}

class FileTls implements ServerTls {
  private cert = '';
  private key = '';
  private mtimes = '';
  private readonly servers = new Set<TlsServer>();
  readonly checkIntervalMs = 60_000;

  constructor(
    private readonly config: Config,
    private readonly files: TlsFiles,
    private readonly caPem: string | undefined,
  ) {
    this.read();
  }

  /** Takes the files when they changed and hold a servable pair; otherwise throws, and what is served stays. */
  private read(): boolean {
    let m: string;
    try {
      m = `${statSync(this.files.resolve(this.files.certFile)).mtimeMs}:${statSync(this.files.resolve(this.files.keyFile)).mtimeMs}`;
    } catch {
      m = 'unreadable';
    }
    if (m === this.mtimes) return false;
    // a pair that cannot be served is not tried again until the files change
    this.mtimes = m;
    ({ cert: this.cert, key: this.key } = readTlsFiles(this.files));
    return true;
  }

  serverOptions(): TlsOptions {
    return { ...baseOptions(this.config, this.caPem), cert: this.cert, key: this.key };
  }

  attach(server: TlsServer): void {
    this.servers.add(server);
    server.once('close', () => this.servers.delete(server));
  }

  async check(): Promise<boolean> {
    if (!this.read()) return false;
    for (const s of this.servers) s.setSecureContext(this.serverOptions());
    return true;
  }

  current(): ServerCertificateInfo {
    return { serial: null, notAfter: 0 };
  }
}

/**
 * The TLS source of a node, or undefined for `tls.mode: off`.
 * @example const tls = await openServerTls(config, dir, pki, clock, logger); https.createServer(tls.serverOptions(), handler)
 */
export async function openServerTls(
  config: Config,
  resolve: (file: string) => string,
  pki: CertificateAuthority,
  clock: Clock,
  logger: Logger,
): Promise<ServerTls | undefined> {
  if (config.tls.mode === 'off') return undefined;
  const files = tlsFilesOf(config, resolve);
  if (files !== undefined) return new FileTls(config, files, pki.ready ? pki.rootPem() : undefined);
  const t = new AutoTls(config, pki, clock, logger);
  await t.issue();
  return t;
}
