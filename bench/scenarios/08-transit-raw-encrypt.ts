/** Baseline for transit: raw AES-256-GCM encrypt of 1 KiB behind node:http, same JSON shape (no auth, no audit). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { Scenario } from '../types.js';

export default {
  name: 'raw aes-gcm encrypt',
  description: 'POST /encrypt, 1 KiB, raw node:crypto AES-256-GCM in the server process (transit baseline)',
  start: async (ctx) => {
    const out = join(tmpdir(), `portcullis-bench-raw aes-gcm encrypt-${process.pid}-${Date.now()}.json`.replace(/ /g, '-'));
    const s = await ctx.spawnServer('raw-aes', { OUT: out });
    const o = JSON.parse(readFileSync(out, 'utf8')) as { adminToken?: string; plaintext: string; ciphertext: string };
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (o.adminToken) headers.authorization = `Bearer ${o.adminToken}`;
    return {
      load: { url: s.url, path: '/encrypt', method: 'POST', headers, body: JSON.stringify({ plaintext: o.plaintext }) },
      stop: s.stop,
    };
  },
} satisfies Scenario;
