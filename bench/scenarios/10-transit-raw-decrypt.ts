/** Baseline for transit: raw AES-256-GCM decrypt of 1 KiB behind node:http, same JSON shape. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { Scenario } from '../types.js';

export default {
  name: 'raw aes-gcm decrypt',
  description: 'POST /decrypt, 1 KiB, raw node:crypto AES-256-GCM in the server process (transit baseline)',
  start: async (ctx) => {
    const out = join(tmpdir(), `portcullis-bench-raw aes-gcm decrypt-${process.pid}-${Date.now()}.json`.replace(/ /g, '-'));
    const s = await ctx.spawnServer('raw-aes', { OUT: out });
    const o = JSON.parse(readFileSync(out, 'utf8')) as { adminToken?: string; plaintext: string; ciphertext: string };
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (o.adminToken) headers.authorization = `Bearer ${o.adminToken}`;
    return {
      load: { url: s.url, path: '/decrypt', method: 'POST', headers, body: JSON.stringify({ ciphertext: o.ciphertext }) },
      stop: s.stop,
    };
  },
} satisfies Scenario;
