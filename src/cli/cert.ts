/** `portcullis cert issue|renew|revoke|list|show`: the CA's certificates through the admin API of the running node. */
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { fsErrorText } from '../core/errors.js';
import { createFileOnceSync, makeDirectorySync, MakeDirectoryError } from '../core/files.js';
import { LEAF_REVOCATION_REASONS } from '../pki/store.js';
import { adminClient, withNodeOptions, type NodeOptions } from './context.js';
import { collect } from './options.js';
import { CliError, action, printJson, printLine, printList, readOptionFile } from './output.js';

interface Summary {
  serial: string;
  subject: string;
  owner: string | null;
  profile: string;
  status: string;
  expired: boolean;
  not_after: string;
}
interface Issued {
  serial: string;
  not_after: string;
  certificate: string;
  chain: string;
  private_key?: string;
  pkcs12?: string;
}

/**
 * The serial the admin API answered, checked before it names a file: 2 to 40 hex digits
 * (RFC 5280: at most 20 octets), as the node itself accepts them. Anything else (`../x`,
 * a `/`, a non-string) from a broken or hostile node would put a file outside --out-dir:
 * `internal` (an answer the node never gives), naming the answer, before anything is written.
 */
function checkedSerial(serial: unknown): string {
  if (typeof serial === 'string' && /^[0-9a-fA-F]{2,40}$/.test(serial)) return serial;
  const shown = typeof serial !== 'string' ? typeof serial : serial.length > 50 ? `${JSON.stringify(serial.slice(0, 50))}…` : JSON.stringify(serial);
  throw new CliError('internal', `the admin API answered serial ${shown}, not 2 to 40 hex digits: no file was written to --out-dir; find the certificate with portcullis cert list`);
}

/**
 * Writes <serial>.pem and .chain.pem (0644) and, for a generated key, .key and .p12 (0600)
 * into `dir`, each whole or not at all and fsynced, never over a file already there. The
 * certificate is issued by then: a failure names the file and the serial to revoke.
 */
function writeIssued(dir: string, c: Issued): string[] {
  const serial = checkedSerial(c.serial);
  const out: string[] = [];
  const w = (name: string, data: string | Buffer, mode = 0o644) => {
    const f = join(dir, name);
    let why: string | undefined;
    try {
      if (!createFileOnceSync(f, data, mode)) why = fsErrorText({ code: 'EEXIST' });
    } catch (e) {
      why = fsErrorText(e);
    }
    if (why !== undefined) throw new CliError('request.invalid', `--out-dir ${f}: ${why}; certificate ${serial} was issued: revoke it (portcullis cert revoke ${serial}) and issue again`);
    out.push(f);
  };
  w(`${serial}.pem`, c.certificate);
  w(`${serial}.chain.pem`, c.chain);
  if (c.private_key) w(`${serial}.key`, c.private_key, 0o600);
  if (c.pkcs12) w(`${serial}.p12`, Buffer.from(c.pkcs12, 'base64'), 0o600);
  return out;
}

function report(c: Issued, o: { outDir?: string; json?: boolean }): void {
  if (o.json && !o.outDir) return printJson(c);
  if (!o.outDir) {
    if (c.private_key) throw new CliError('request.invalid', 'a generated private key is only written to files: pass --out-dir');
    process.stdout.write(c.chain);
    return;
  }
  const files = writeIssued(o.outDir, c);
  if (o.json) {
    // The key material stays in the files (0600), never on the terminal.
    const { private_key: _k, pkcs12: _p, ...shown } = c;
    return printJson({ ...shown, files });
  }
  for (const f of files) printLine`wrote ${f}`;
  printLine`serial ${c.serial}, valid until ${c.not_after}`;
}

/** Makes the output directory (0700) before anything is issued, so a key is never issued and then lost. */
function prepareOutDir(dir: string | undefined): void {
  if (dir === undefined) return;
  try {
    makeDirectorySync(dir, 0o700);
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw new CliError('request.invalid', `--out-dir ${dir} cannot be created or written: ${e instanceof MakeDirectoryError ? e.message : fsErrorText(e)}`);
  }
}

export function registerCert(program: Command): void {
  const cert = program.command('cert').description('certificates of the built-in CA');
  withNodeOptions(cert.command('issue'))
    .description('issue a server (--dns/--ip) or client (--client-id) certificate, from --csr or with a generated key')
    .option('--profile <profile>', 'server or client (default: client with --client-id, else server)')
    .option('--dns <name>', 'DNS name (repeatable)', collect)
    .option('--ip <address>', 'IP address (repeatable)', collect)
    .option('--client-id <id>', 'the app a client certificate is bound to')
    .option('--csr <file>', 'PKCS#10 CSR (PEM) carrying the key')
    .option('--lifetime <duration>', 'e.g. 12h, 7d')
    .option('--p12-password-file <file>', 'also write a PKCS#12 bundle protected by the password in this file')
    .option('--out-dir <dir>', 'write <serial>.pem, .chain.pem, .key (0600) and .p12 here (required with a generated key)')
    .option('--json', 'print JSON (includes a generated key: only with --out-dir it is kept off the terminal)')
    .action(
      action(async (o: NodeOptions & { profile?: string; dns?: string[]; ip?: string[]; clientId?: string; csr?: string; lifetime?: string; p12PasswordFile?: string; outDir?: string; json?: boolean }) => {
        const profile = o.profile ?? (o.clientId ? 'client' : 'server');
        const body: Record<string, unknown> = { profile };
        if (o.dns) body.dns_names = o.dns;
        if (o.ip) body.ip_addresses = o.ip;
        if (o.clientId) body.client_id = o.clientId;
        if (o.csr) body.csr = readOptionFile('--csr', o.csr);
        if (o.lifetime) body.lifetime = o.lifetime;
        if (o.p12PasswordFile) {
          body.format = 'pkcs12';
          body.pkcs12_password = readOptionFile('--p12-password-file', o.p12PasswordFile).trim();
        }
        if (!o.csr && !o.outDir) throw new CliError('request.invalid', 'a generated private key is only written to files: pass --out-dir (or --csr)');
        prepareOutDir(o.outDir);
        report(await adminClient(o).call<Issued>('POST', '/v1/certificates', body), o);
      }),
    );
  withNodeOptions(cert.command('renew <serial>'))
    .description('renew a current certificate: same names, a new key (from --csr or generated)')
    .option('--csr <file>', 'PKCS#10 CSR (PEM) with the new key')
    .option('--out-dir <dir>', 'write the new files here (required with a generated key)')
    .option('--json', 'print JSON')
    .action(
      action(async (serial: string, o: NodeOptions & { csr?: string; outDir?: string; json?: boolean }) => {
        if (!o.csr && !o.outDir) throw new CliError('request.invalid', 'a generated private key is only written to files: pass --out-dir (or --csr)');
        const body = o.csr ? { csr: readOptionFile('--csr', o.csr) } : {};
        prepareOutDir(o.outDir);
        report(await adminClient(o).call<Issued>('POST', `/v1/certificates/${encodeURIComponent(serial)}/renew`, body), o);
      }),
    );
  withNodeOptions(cert.command('revoke <serial>'))
    .description('revoke a certificate on every node at once (CRL and OCSP follow)')
    .option('--reason <reason>', `RFC 5280 reason: ${LEAF_REVOCATION_REASONS.join(', ')}`, 'unspecified')
    .action(
      action(async (serial: string, o: NodeOptions & { reason: string }) => {
        if (!(LEAF_REVOCATION_REASONS as readonly string[]).includes(o.reason)) throw new CliError('request.invalid', `--reason must be one of ${LEAF_REVOCATION_REASONS.join(', ')}`);
        const r = await adminClient(o).call<{ certificate: Summary }>('POST', `/v1/certificates/${encodeURIComponent(serial)}/revoke`, { reason: o.reason });
        printLine`revoked ${r.certificate.serial} (${r.certificate.subject || r.certificate.owner || r.certificate.profile})`;
      }),
    );
  withNodeOptions(cert.command('list'))
    .description('the inventory: serial, owner, profile, status, expiry')
    .option('--owner <clientId>', 'only certificates of this app')
    .option('--status <status>', 'active or revoked')
    .option('--expiring-within <duration>', 'e.g. 7d')
    .option('--json', 'print JSON')
    .action(
      action(async (o: NodeOptions & { owner?: string; status?: string; expiringWithin?: string; json?: boolean }) => {
        const q = new URLSearchParams();
        if (o.owner) q.set('owner', o.owner);
        if (o.status) q.set('status', o.status);
        if (o.expiringWithin) q.set('expiring_within', o.expiringWithin);
        const certificates = await adminClient(o).listAll<Summary>(`/v1/certificates${q.size ? `?${q}` : ''}`, 'certificates');
        const r = { certificates };
        if (o.json) return printJson(r);
        printList(
          'no certificates',
          ['SERIAL', 'PROFILE', 'OWNER', 'STATUS', 'NOT AFTER', 'SUBJECT'],
          r.certificates.map((c) => [c.serial, c.profile, c.owner ?? '-', c.status === 'active' && c.expired ? 'expired' : c.status, c.not_after, c.subject]),
        );
      }),
    );
  withNodeOptions(cert.command('show <serial>'))
    .description('one certificate, with --pem its PEM')
    .option('--pem', 'print the certificate PEM only')
    .action(
      action(async (serial: string, o: NodeOptions & { pem?: boolean }) => {
        const r = await adminClient(o).call<{ certificate: Summary & { certificate: string } }>('GET', `/v1/certificates/${encodeURIComponent(serial)}`);
        if (o.pem) process.stdout.write(r.certificate.certificate);
        else printJson(r.certificate);
      }),
    );
}
