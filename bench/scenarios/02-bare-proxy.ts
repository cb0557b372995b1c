/** The baseline: the fastest plain Node reverse proxy (undici Pool dispatch), no policy. */
import type { Scenario } from '../types.js';

export default {
  name: 'bare proxy',
  description: 'node:http + undici Pool.dispatch, raw headers relayed, no routing or policy',
  baseline: true,
  start: async (ctx) => {
    const s = await ctx.spawnServer('bare-proxy', { UPSTREAM_URL: ctx.upstreamUrl });
    return { load: { url: s.url }, stop: s.stop };
  },
} satisfies Scenario;
