/** Transit encrypt of 1 KiB over HTTP on a whole node (admin token, audited); compare with raw aes-gcm encrypt (target ≥ 0.5×). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { Scenario } from '../types.js';

export default {
  name: 'transit encrypt',
  compareTo: 'raw aes-gcm encrypt',
  description: 'POST /v1/transit/encrypt/bench, 1 KiB, admin token, audited (target ≥ 0.5× raw aes-gcm encrypt)',
  start: async (ctx) => {
    const out = join(tmpdir(), `portcullis-bench-transit encrypt-${process.pid}-${Date.now()}.json`.replace(/ /g, '-'));
    const s = await ctx.spawnServer('transit', { OUT: out });
    const o = JSON.parse(readFileSync(out, 'utf8')) as { adminToken?: string; plaintext: string; ciphertext: string };
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (o.adminToken) headers.authorization = `Bearer ${o.adminToken}`;
    return {
      load: { url: s.url, path: '/v1/transit/encrypt/bench', method: 'POST', headers, body: JSON.stringify({ plaintext: o.plaintext }) },
      stop: s.stop,
    };
  },
} satisfies Scenario;
