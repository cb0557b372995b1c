/**
 * Cluster events: facts one node tells every node (revocations, app changes, key
 * changes). Applied locally at once, then published through the ephemeral store's
 * pub/sub; a lost message is covered by each node's periodic reconcile from the store.
 * While the subscription is known to be down (Redis unreachable), messages are certainly
 * lost: the node re-reads the store every second meanwhile and once more when it is back
 * (`resyncWhileMissing`), rather than waiting for the reconcile timer.
 *
 * Events from two nodes can arrive in either order, so none may carry state that a late
 * copy would roll back: revocations and watermarks only grow, and the rest make each node
 * read the store (numbered reads: stamped-map.ts, RevocationSet.statusRead). `app.status`'s
 * `disabled` is what the sender changed, not what the receiver applies.
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

export interface EventBusOptions {
  /**
   * The node id of the bus this one is a peer of (the gateway thread's bus names its main
   * thread's): that bus hands its events over through `apply` before it publishes them, so
   * its published copies are skipped here. Applied twice, a late copy could undo a newer
   * change for a moment (an app enabled, then disabled, then enabled again by the first
   * event's copy arriving last).
   */
  peerOf?: string;
}

export class EventBus {
  /** This bus's id in published events; a bus skips the events it published itself. */
  readonly node = randomId(8);
  private readonly handlers: Array<(e: ClusterEvent) => void | Promise<void>> = [];
  private readonly peers: Array<(e: ClusterEvent) => Promise<void>> = [];
  private unsubscribe: (() => Promise<void>) | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly ephemeral: EphemeralStore,
    private readonly logger: Logger,
    private readonly opts: EventBusOptions = {},
  ) {}

  on(handler: (e: ClusterEvent) => void | Promise<void>): void {
    this.handlers.push(handler);
  }

  private remoteFailed: ((e: ClusterEvent, err: unknown) => void) | undefined;

  /**
   * Called when an event from another node could not be applied here. No caller waits
   * for such an event, so this is where its failure is acted on (the gateway thread
   * re-reads the store, and refuses requests until it has: thread-entry.ts).
   */
  onRemoteFailure(fn: (e: ClusterEvent, err: unknown) => void): void {
    this.remoteFailed = fn;
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
      if (parsed.node === this.node || parsed.node === this.opts.peerOf) return;
      void this.dispatch(parsed.event).then((failed) => {
        if (failed.length > 0) this.remoteFailed?.(parsed.event, failed[0]);
      });
    });
  }

  /** Runs every handler; returns the failures (each is logged). */
  private async dispatch(e: ClusterEvent): Promise<unknown[]> {
    const failed: unknown[] = [];
    for (const h of this.handlers) {
      try {
        await h(e);
      } catch (err) {
        this.logger.error({ err, event: e.type }, 'cluster event handler failed');
        failed.push(err);
      }
    }
    return failed;
  }

  /**
   * Adds a part of this node that keeps its own copy of the state (the gateway thread):
   * `emit` waits until the peer has applied the event too, and fails as the peer does.
   */
  addPeer(apply: (e: ClusterEvent) => Promise<void>): void {
    this.peers.push(apply);
  }

  /**
   * Applies an event here without telling anyone (what a peer does with one it is handed).
   * Rejects with the first handler's failure, once every handler has run: the caller must
   * not take the event as in force.
   */
  async apply(e: ClusterEvent): Promise<void> {
    const failed = await this.dispatch(e);
    if (failed.length > 0) throw failed[0];
  }

  /**
   * Applies locally and on the peers, then tells the other nodes. A publish failure is
   * logged: reconcile delivers it later. A local handler or a peer that could not confirm
   * the event makes `emit` reject with its error (a local one first), after the peers
   * applied it and the other nodes were told: the change is stored, but its caller must
   * not answer as if it were in force everywhere.
   */
  async emit(e: ClusterEvent): Promise<void> {
    const local = await this.dispatch(e);
    const peers = await Promise.allSettled(this.peers.map((p) => p(e)));
    try {
      await this.ephemeral.publish(CHANNEL, JSON.stringify({ node: this.node, event: e }));
    } catch (err) {
      this.logger.warn({ err, event: e.type }, 'could not publish a cluster event; nodes will pick it up at reconcile');
    }
    if (local.length > 0) throw local[0];
    for (const p of peers) if (p.status === 'rejected') throw p.reason;
  }

  /**
   * Emits each event in turn, every one even when an earlier one fails, then rejects
   * with the first failure: one change's events all reach every node.
   *
   * @example await events.emitAll([{ type: 'app.status', clientId, disabled: true }, { type: 'app.changed', clientId }]);
   */
  async emitAll(events: readonly ClusterEvent[]): Promise<void> {
    let first: { error: unknown } | undefined;
    for (const e of events) {
      try {
        await this.emit(e);
      } catch (error) {
        first ??= { error };
      }
    }
    if (first) throw first.error;
  }

  /**
   * Re-reads the store (`resync`) while events from other nodes are being missed: every
   * `everyMs` from the subscription's loss until it is back, and once more then (the
   * subscription is live again before that read begins, so a change is either read or
   * received). A failed re-read is logged; `resync` itself decides what a failure means
   * for the gateway (in-force.ts closes its gate).
   *
   * @example events.resyncWhileMissing(() => rereader.run());
   */
  resyncWhileMissing(resync: () => Promise<void>, everyMs = 1000): void {
    const run = (why: string): void =>
      void resync().catch((err: unknown) => this.logger.warn({ err }, `could not re-read the store ${why}; retrying`));
    this.ephemeral.onSubscriptionsLive?.((live) => {
      if (this.stopped) return;
      if (live) {
        if (this.resyncTimer) clearInterval(this.resyncTimer);
        this.resyncTimer = undefined;
        this.logger.info('cluster events are received again; re-reading the store for the ones missed');
        run('after cluster events were missed');
      } else if (this.resyncTimer === undefined) {
        this.logger.warn(`cluster events cannot be received (the ephemeral store's subscription is lost); re-reading the store every ${everyMs} ms meanwhile`);
        this.resyncTimer = setInterval(() => run('while cluster events are missed'), everyMs);
        this.resyncTimer.unref();
      }
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    await this.unsubscribe?.();
  }
}
