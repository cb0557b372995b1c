/**
 * The transit benchmark's baseline: raw AES-256-GCM (node:crypto) behind node:http, with
 * the same JSON shapes as transit (`POST /encrypt {plaintext}` → `{ciphertext}`, `POST
 * /decrypt {ciphertext}` → `{plaintext}`, base64), a KeyObject imported once and a random
 * IV per message. No authentication, no audit, no key versions: the ceiling. Writes
 * `{plaintext, ciphertext}` to $OUT before it prints LISTENING.
 */
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const out = process.env['OUT'];
if (!out) throw new Error('OUT is required');
const key = createSecretKey(randomBytes(32));

function encrypt(pt: Buffer): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  const head = c.update(pt);
  c.final();
  return 'pc:v1:' + Buffer.concat([iv, head, c.getAuthTag()]).toString('base64');
}

function decrypt(value: string): Buffer {
  const raw = Buffer.from(value.slice(6), 'base64');
  const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
  d.setAuthTag(raw.subarray(raw.length - 16));
  const o = d.update(raw.subarray(12, raw.length - 16));
  d.final();
  return o;
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let body: string;
    try {
      const json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { plaintext?: string; ciphertext?: string };
      body = req.url === '/encrypt' ? JSON.stringify({ ciphertext: encrypt(Buffer.from(json.plaintext!, 'base64')), key_version: 1 }) : JSON.stringify({ plaintext: decrypt(json.ciphertext!).toString('base64') });
    } catch {
      res.writeHead(400).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  const plaintext = randomBytes(Number(process.env['SIZE'] ?? 1024));
  writeFileSync(out, JSON.stringify({ plaintext: plaintext.toString('base64'), ciphertext: encrypt(plaintext) }));
  process.stdout.write(`LISTENING ${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
