/** The client-credentials token endpoint of a whole embedded node: client_secret_basic, ES256 JWT issued per request. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { Scenario } from '../types.js';

export default {
  name: 'token endpoint (client credentials)',
  description: 'POST /oauth2/token, client_secret_basic, one ES256 at+jwt per request (target ≥ 2,000/s)',
  start: async (ctx) => {
    const out = join(tmpdir(), `portcullis-bench-token-${process.pid}-${Date.now()}.json`);
    const s = await ctx.spawnServer('portcullis', { OUT: out });
    const { basic } = JSON.parse(readFileSync(out, 'utf8')) as { basic: string };
    return {
      load: { url: s.url, path: '/oauth2/token', method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' },
      stop: s.stop,
    };
  },
} satisfies Scenario;
