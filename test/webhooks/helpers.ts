/** A local webhook receiver and a store + key ring + signer for delivery tests. */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { Envelope } from '../../src/crypto/envelope.js';
import { KeyRing } from '../../src/crypto/keyring.js';
import { openDurableStore, type DurableStore } from '../../src/store/index.js';
import { KeyRingWebhookSigner } from '../../src/webhooks/sign.js';
import { WebhookService } from '../../src/webhooks/service.js';
import { MemoryAuditSink } from '../../src/audit/sink.js';
import { sealedWebhookStore } from '../../src/webhooks/sealed-urls.js';
import type { WebhookStore } from '../../src/webhooks/store.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  at: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Status codes to answer, in order; 200 once the script runs out. */
  script: number[];
  /** The request as a web Request (as an app's handler would see it). */
  asRequest(r: Received): Request;
  close(): Promise<void>;
}

export async function startReceiver(path = '/hooks/in', script: number[] = []): Promise<Receiver> {
  const received: Received[] = [];
  const state = { script };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks), at: Date.now() });
      res.statusCode = state.script.shift() ?? 200;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base + path,
    received,
    get script() {
      return state.script;
    },
    set script(s: number[]) {
      state.script = s;
    },
    asRequest(r) {
      const headers = new Headers();
      for (const [k, v] of Object.entries(r.headers)) if (v !== undefined) for (const one of Array.isArray(v) ? v : [v]) headers.append(k, one);
      return new Request(base + r.url, { method: r.method, headers, body: new Uint8Array(r.body) });
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

export interface Deps {
  store: DurableStore;
  /** The store as the service and the worker use it in a node: subscription URLs sealed (webhooks/sealed-urls.ts). */
  hooks: WebhookStore;
  envelope: Envelope;
  keys: KeyRing;
  signer: KeyRingWebhookSigner;
  webhooks: WebhookService;
}

/**
 * Opens the store at `url` with `masterKey`, a key ring (ES256 unless given) and a webhook
 * service; the receivers here listen on 127.0.0.1, so the service opts in to private targets
 * unless told otherwise (plain http to that loopback literal needs nothing more; to a name,
 * `allowInsecureHttp`).
 */
export async function openDeps(url: string, masterKey: Buffer, clock: Clock, alg: 'ES256' | 'EdDSA' | 'RS256' = 'ES256', baseDir?: string, allowPrivateTargets = true, allowInsecureHttp = false): Promise<Deps> {
  const store = await openDurableStore(url, baseDir ? { baseDir } : {});
  const envelope = await Envelope.open(store, Buffer.from(masterKey));
  const keys = new KeyRing(store, envelope, clock, { alg, rotationIntervalMs: 86_400_000, prepublishMs: 3_600_000, maxTokenLifetimeMs: 3_600_000 });
  await keys.maintain();
  const hooks = sealedWebhookStore(store, envelope);
  return { store, hooks, envelope, keys, signer: new KeyRingWebhookSigner(keys, clock), webhooks: new WebhookService(hooks, new MemoryAuditSink(), clock, silentLogger, { allowPrivateTargets, allowInsecureHttp }) };
}

export const newMasterKey = (): Buffer => randomBytes(32);

/** A receiver that accepts each request and never answers (until `close`): `hung` counts the requests it holds. */
export interface HungReceiver {
  url: string;
  readonly hung: number;
  close(): Promise<void>;
}

export async function startHungReceiver(path = '/in'): Promise<HungReceiver> {
  let hung = 0;
  const server = createServer(() => void hung++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    get hung() {
      return hung;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Polls `cond` every 20 ms for up to `ms`; whether it held. */
export async function until(cond: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (cond()) return true;
    await sleep(20);
  }
  return cond();
}
