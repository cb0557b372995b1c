/**
 * Cluster events: facts one node tells every node (revocations, app changes, key
 * changes). Applied locally at once, then published through the ephemeral store's
 * pub/sub; a lost message is covered by each node's periodic reconcile from the store.
 */
import type { EphemeralStore } from './ephemeral.js';
import type { Logger } from './logger.js';
import { randomId } from './ids.js';

export type ClusterEvent =
  | { type: 'token.revoked'; jti: string; clientId: string; expiresAt: number }
  | { type: 'app.tokens-revoked'; clientId: string; before: number }
  | { type: 'app.status'; clientId: string; disabled: boolean }
  | { type: 'app.changed'; clientId: string }
  | { type: 'user.tokens-revoked'; userId: string; before: number }
  | { type: 'keys.changed' }
  | { type: 'app-keys.changed'; clientId: string; keyid: string }
  | { type: 'app-enc-keys.changed'; clientId: string; kid: string }
  | { type: 'transit.changed'; name: string }
  | { type: 'cert.revoked'; serial: string; issuerId: string };

const CHANNEL = 'events';

export class EventBus {
  private readonly node = randomId(8);
  private readonly handlers: Array<(e: ClusterEvent) => void | Promise<void>> = [];
  private readonly peers: Array<(e: ClusterEvent) => Promise<void>> = [];
  private unsubscribe: (() => Promise<void>) | undefined;

  constructor(
    private readonly ephemeral: EphemeralStore,
    private readonly logger: Logger,
  ) {}

  on(handler: (e: ClusterEvent) => void | Promise<void>): void {
    this.handlers.push(handler);
  }

  async start(): Promise<void> {
    this.unsubscribe = await this.ephemeral.subscribe(CHANNEL, (message) => {
      let parsed: { node: string; event: ClusterEvent };
      try {
        parsed = JSON.parse(message) as { node: string; event: ClusterEvent };
      } catch {
        this.logger.warn('ignored a malformed cluster event');
        return;
      }
      if (parsed.node === this.node) return;
      void this.dispatch(parsed.event);
    });
  }

  private async dispatch(e: ClusterEvent): Promise<void> {
    for (const h of this.handlers) {
      try {
        await h(e);
      } catch (err) {
        this.logger.error({ err, event: e.type }, 'cluster event handler failed');
      }
    }
  }

  /**
   * Adds a part of this node that keeps its own copy of the state (the gateway thread):
   * `emit` waits until the peer has applied the event too.
   */
  addPeer(apply: (e: ClusterEvent) => Promise<void>): void {
    this.peers.push(apply);
  }

  /** Applies an event here without telling anyone (what a peer does with one it is handed). */
  apply(e: ClusterEvent): Promise<void> {
    return this.dispatch(e);
  }

  /** Applies locally and on the peers, then tells the other nodes. A publish failure is logged: reconcile delivers it later. */
  async emit(e: ClusterEvent): Promise<void> {
    await this.dispatch(e);
    if (this.peers.length > 0) await Promise.all(this.peers.map((p) => p(e).catch((err: unknown) => this.logger.warn({ err, event: e.type }, 'a peer could not apply a cluster event; it picks it up at reconcile'))));
    try {
      await this.ephemeral.publish(CHANNEL, JSON.stringify({ node: this.node, event: e }));
    } catch (err) {
      this.logger.warn({ err, event: e.type }, 'could not publish a cluster event; nodes will pick it up at reconcile');
    }
  }

  async stop(): Promise<void> {
    await this.unsubscribe?.();
  }
}
