/** The commented portcullis.yaml that `portcullis init` writes. */
export const DEFAULT_CONFIG = `# Portcullis configuration. Reference: docs/configuration.md
# Every value can be overridden by an environment variable: PORTCULLIS_<PATH>, with
# __ between path segments, e.g. PORTCULLIS_TOKENS__ACCESS_TOKEN_TTL=5m.
# Strings may use \${env:NAME} and \${file:PATH} (secrets from files).

# The issuer URL: the \`iss\` of every token, and where apps find discovery.
issuer: https://127.0.0.1:8080

listen:
  identity: 127.0.0.1:8080   # discovery, JWKS, token, revoke, introspect
  gateway: 127.0.0.1:8443    # the routes below
  admin: 127.0.0.1:8081      # admin API, metrics, health (keep on loopback)

# Durable store: sqlite:<file> (embedded) or postgres://user@host:5432/db (scale-out).
store: sqlite:./portcullis.db
# Ephemeral state: memory (one node) or redis://127.0.0.1:6379 (many nodes).
ephemeral: memory

masterKeyFile: ./master.key   # 32 random bytes, mode 0600; never in the database
adminTokenFile: ./admin.token # bearer token for the admin API and the CLI
# The audit anchor: the newest audit event this node saw (detects a database set back),
# written while the node runs, by default ./audit.anchor. Where this directory is read-only
# (a Kubernetes ConfigMap or Secret), put it on a persistent volume of this node:
# audit:
#   anchorFile: /var/lib/portcullis/audit.anchor

tokens:
  accessTokenTtl: 10m
  signingAlg: ES256           # ES256, EdDSA or RS256
  leeway: 30s

keys:
  rotationInterval: 30d       # how long a signing key signs
  prepublish: 1h              # the next key is in the JWKS this long before it signs

# The built-in CA (created by init: ca.pem in this directory is its root; trust it with
# curl --cacert ca.pem). Client certificates carry spiffe://<trustDomain>/app/<client_id>.
pki:
  trustDomain: portcullis.local
  serverCertLifetime: 24h     # listeners renew their own after two thirds of it
  clientCertLifetime: 24h

# TLS of the identity plane and the gateway: auto (certificate from the built-in CA),
# files (certFile/keyFile) or off. The admin plane stays plain HTTP on loopback.
tls:
  mode: auto
  minVersion: TLSv1.2

# Second factors at sign-in (docs/mfa.md). One-time codes by e-mail or text message need a
# sender: smtp or webhook for real users. \`file\` only writes each code to the outbox in
# this directory (mode 0600), to try the factor out: nobody receives it, and the node warns
# at start. Without a sender (none) the code factor is off. \`console\` prints every code
# into the logs: development only.
identity:
  otp:
    sender: file              # none, file, smtp, webhook (or console)
    file: ./otp-outbox.jsonl  # read the codes with: tail otp-outbox.jsonl

# Gateway routes: requests matching a route are checked, then proxied upstream.
routes: []
#  - name: orders
#    match: { pathPrefix: /orders, methods: [GET, POST] }
#    upstream: http://127.0.0.1:9000
#    require:
#      token: { audience: orders-api, scopes: [orders:read] }
#      clientCertificate: { mapToApp: true }   # mutual TLS with an app certificate
`;
