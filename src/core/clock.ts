/** The clock every time-dependent check reads, so tests can freeze it. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock tests set by hand. */
export class FrozenClock implements Clock {
  constructor(private t: number) {}
  now(): number {
    return this.t;
  }
  set(t: number): void {
    this.t = t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

export const seconds = (ms: number): number => Math.floor(ms / 1000);

/**
 * Waits, under a second, until `clock` is past the whole second that holds `cutoff` (epoch
 * ms). A revocation cutoff refuses every token whose `iat` (whole seconds) starts before it
 * (`iat·1000 < cutoff`, fail closed), so a token issued in the cutoff's very second would be
 * refused for its whole life: a token endpoint waits before it issues, and an operation that
 * sets a cutoff before it answers, so that what follows carries a later `iat`. A cutoff
 * ahead of `clock` (another node's clock runs ahead) is not waited for; a clock that does not
 * move (a test's) is waited for once.
 *
 * @example
 * await pastSecondOf(clock, app.tokensRevokedBefore); // then issue
 */
export async function pastSecondOf(clock: Clock, cutoff: number): Promise<void> {
  // twice at most: a timer can fire a millisecond before the wall clock reaches its target
  for (let attempt = 0, last = Number.NaN; attempt < 2; attempt++) {
    const now = clock.now();
    if (cutoff <= Math.floor(now / 1000) * 1000 || cutoff > now || now === last) return;
    last = now;
    await new Promise((resolve) => setTimeout(resolve, Math.ceil(cutoff / 1000) * 1000 - now + 2));
  }
}
