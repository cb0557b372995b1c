/**
 * Where a CLI command finds its node: the directory (`--dir`, else `$PORTCULLIS_DIR`,
 * else `./.portcullis`), the config file in it (or `--config`, or `$PORTCULLIS_CONFIG`
 * when no `--dir` is given), the admin URL (`--admin-url`, else `$PORTCULLIS_ADMIN_URL`,
 * else the config's `listen.admin`; plain http only to loopback unless `admin.allowInsecureHttp`)
 * and the admin token (`adminTokenFile`).
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { loadConfig, resolveIn, type LoadedConfig } from '../core/config/load.js';
import { readAdminToken } from '../http/admin-auth.js';
import { AdminClient } from './client.js';
import { CliError } from './output.js';

export const CONFIG_FILE_NAME = 'portcullis.yaml';

export interface NodeOptions {
  dir?: string;
  config?: string;
  adminUrl?: string;
}

export function defaultDir(): string {
  return process.env.PORTCULLIS_DIR || './.portcullis';
}

/** `--config`, else `--dir`'s config, else `$PORTCULLIS_CONFIG`, else the default directory's. */
export function configFileOf(o: NodeOptions): string {
  return o.config ?? (o.dir === undefined && process.env.PORTCULLIS_CONFIG ? process.env.PORTCULLIS_CONFIG : join(o.dir ?? defaultDir(), CONFIG_FILE_NAME));
}

export function withDirOptions(cmd: Command): Command {
  return cmd
    .option('--dir <dir>', 'Portcullis directory (default: $PORTCULLIS_DIR or ./.portcullis)')
    .option('--config <file>', 'configuration file (default: DIR/portcullis.yaml, or $PORTCULLIS_CONFIG without --dir)');
}

/** Adds --dir/--config/--admin-url to a management command. */
export function withNodeOptions(cmd: Command): Command {
  return withDirOptions(cmd).option('--admin-url <url>', 'admin API base URL, https or a loopback http URL (default: $PORTCULLIS_ADMIN_URL, else http://<listen.admin>)');
}

/** The admin URL a CLI reaches for a `listen.admin` value: wildcard addresses mean this host. */
export function adminUrlFromListen(hostPort: string): string {
  const i = hostPort.lastIndexOf(':');
  let host = hostPort.slice(0, i);
  const port = hostPort.slice(i + 1);
  if (host === '0.0.0.0') host = '127.0.0.1';
  if (host === '[::]') host = '[::1]';
  if (port === '0') throw new CliError('config.invalid', 'listen.admin uses port 0 (chosen at start); pass --admin-url');
  return `http://${host}:${port}`;
}

/** `--admin-url`: an http(s) base URL without user:password, query or fragment (never echoed when it carries a password). */
export function checkAdminUrl(text: string, from = '--admin-url'): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    // not a URL, so no telling where its password ends (`http://u:pa/ss@h`): a value with an @ is not echoed
    const got = text.includes('@') ? 'a value with an @ (not shown: it may hold a password)' : JSON.stringify(text);
    throw new CliError('request.invalid', `${from}: expected an http(s) URL such as http://127.0.0.1:8081, got ${got}`);
  }
  if (u.username !== '' || u.password !== '') throw new CliError('request.invalid', `${from}: must not carry user:password (the admin token is read from adminTokenFile)`);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new CliError('request.invalid', `${from}: expected http or https, got ${u.protocol.slice(0, -1)}`);
  if (text.includes('?') || text.includes('#')) throw new CliError('request.invalid', `${from}: must not have a query or fragment`);
  return text;
}

export function loadFor(o: NodeOptions): LoadedConfig {
  return loadConfig(configFileOf(o));
}

export function adminClient(o: NodeOptions): AdminClient {
  const loaded = loadFor(o);
  const token = readAdminToken(resolveIn(loaded.dir, loaded.config.adminTokenFile));
  const env = process.env.PORTCULLIS_ADMIN_URL || undefined;
  const [base, from] = o.adminUrl !== undefined ? [checkAdminUrl(o.adminUrl), '--admin-url'] : env !== undefined ? [checkAdminUrl(env, 'PORTCULLIS_ADMIN_URL'), 'PORTCULLIS_ADMIN_URL'] : [adminUrlFromListen(loaded.config.listen.admin), 'listen.admin'];
  // plain http beyond loopback only with the opt-in that lets listen.admin be there (client.ts)
  return new AdminClient(base, token, { from, allowInsecureHttp: loaded.config.admin.allowInsecureHttp });
}
