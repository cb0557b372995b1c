/** The upstream alone: the ceiling for anything in front of it. */
import type { Scenario } from '../types.js';

export default {
  name: 'upstream alone',
  description: 'node:http hello world, loaded directly',
  start: async (ctx) => ({ load: { url: ctx.upstreamUrl }, stop: async () => {} }),
} satisfies Scenario;
