/** RFC 7662 introspection of one active token on a whole embedded node (verified-token cache hits). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { Scenario } from '../types.js';

export default {
  name: 'introspection',
  description: 'POST /oauth2/introspect, client_secret_basic, one active token (target ≥ 10,000/s)',
  start: async (ctx) => {
    const out = join(tmpdir(), `portcullis-bench-introspect-${process.pid}-${Date.now()}.json`);
    const s = await ctx.spawnServer('portcullis', { OUT: out });
    const { basic, token } = JSON.parse(readFileSync(out, 'utf8')) as { basic: string; token: string };
    return {
      load: { url: s.url, path: '/oauth2/introspect', method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${token}` },
      stop: s.stop,
    };
  },
} satisfies Scenario;
