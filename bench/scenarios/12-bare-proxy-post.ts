/** The bare proxy with the message scenarios' request shape (POST, 1 KiB JSON): the proxy_rps of the limit formula. */
import type { Scenario } from '../types.js';

export default {
  name: 'bare proxy POST 1 KiB',
  description: 'the baseline proxy loaded with POST and a 1 KiB JSON body, like the signature/encryption scenarios',
  start: async (ctx) => {
    const s = await ctx.spawnServer('bare-proxy', { UPSTREAM_URL: ctx.upstreamUrl });
    const body = JSON.stringify({ data: 'x'.repeat(1013) });
    return { load: { url: s.url, path: '/orders', method: 'POST', headers: { 'content-type': 'application/json' }, body }, stop: s.stop };
  },
} satisfies Scenario;
