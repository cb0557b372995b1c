/** The same gateway over mutual TLS: a client certificate from the node's CA, require.clientCertificate { mapToApp: true }. Issue 6 target: ≥ 0.9× the gateway over TLS with connection reuse. */
import { sharedTlsNode } from '../tls-node.js';
import type { Scenario } from '../types.js';

export default {
  name: 'gateway over mTLS',
  description: 'the node of "gateway over TLS", on a route with require.clientCertificate { mapToApp: true }; the client presents its certificate (chain verified once per connection; expiry, revocation and app checked per request)',
  compareTo: 'gateway over TLS',
  start: async (ctx) => {
    const n = await sharedTlsNode(ctx);
    return { load: { url: n.url, path: '/mtls/x', tls: n.tls }, stop: n.release, pids: [n.pid] };
  },
} satisfies Scenario;
