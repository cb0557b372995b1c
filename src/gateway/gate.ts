/**
 * The gateway's gate: closed while the gateway cannot be sure that its apps, revocations
 * and keys include every acknowledged admin change (a thread that failed to apply one,
 * or has not yet confirmed that it read the store after the last one). While it is
 * closed every request is refused with `gateway.not-in-sync` (fail closed).
 */
import { PortcullisError } from '../core/errors.js';

export class GatewayGate {
  private why: string | undefined;

  /** A gate created closed stays so until `open`. */
  constructor(closedBecause?: string) {
    this.why = closedBecause;
  }

  get closed(): boolean {
    return this.why !== undefined;
  }

  close(why: string): void {
    this.why = why;
  }

  open(): void {
    this.why = undefined;
  }

  /**
   * Throws `gateway.not-in-sync` while the gate is closed.
   *
   * @example
   * gate.check(); // in the request listener, before anything else
   */
  check(): void {
    if (this.why !== undefined) throw new PortcullisError('gateway.not-in-sync', `the gateway refuses requests until it has re-read its state from the store: ${this.why}`);
  }
}
