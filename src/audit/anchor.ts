/**
 * The audit anchor: detects a database set back to an earlier state. The chain (trail.ts)
 * and its authenticated head (head-key.ts) detect an event changed, removed or inserted,
 * but a database restored from an older copy, or whose newest rows and head were put back
 * as they were, holds a shorter chain that Portcullis itself wrote: it verifies. So each
 * node keeps, outside the database, in a file of its own (`audit.anchorFile`, by default
 * `audit.anchor` in the config directory, next to the master key), the newest (seq, hash)
 * of the trail it has seen committed, and at start (and in `audit verify`) checks that the
 * trail still has an event at that seq with that hash.
 *
 * Only "the event the node saw is still there" is checked, never "the head is where the
 * node left it": other nodes of a cluster (and CLI tools) append too, and the trail only
 * grows, so every node's anchor stays true.
 *
 * The file is one JSON line, `{"v":1,"seq":N,"hash":H,"key":K,"mac":M}`: `mac` is
 * HMAC-SHA-256 of `"portcullis-audit-anchor\n1\n" + seq + "\n" + hash` under a key derived
 * (HKDF) from the deployment's audit key, which only a holder of the master key can open
 * (and which `keys rotate-master` leaves as it is, so the anchor survives a rotation);
 * `key` names that derived key. Someone who can write the config directory but does not
 * hold the master key cannot make an anchor that verifies. Deleting the file is not
 * detected at start: a missing anchor is made anew (a new node, the first start after an
 * upgrade). A running node's verify also checks the newest head it anchored, which neither
 * deleting the file nor putting back an older copy of it sets back.
 *
 * The node writes it atomically (temp file, fsync, rename, fsync of the directory) at
 * start, every few seconds while the head has moved (never per event), and at a clean
 * stop; never backwards. A node that cannot write it does not start
 * (`audit.anchor-unwritable`): running on, its anchor would stay where it was and a later
 * rollback to any point after it would pass.
 */
import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';
import { readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { fsErrorText, PortcullisError } from '../core/errors.js';
import { fsyncDirectoryOf, MakeDirectoryError, makeDirectorySync, writeNewFileSync } from '../core/files.js';
import type { Logger } from '../core/logger.js';
import type { AuditHeadKey } from './head-key.js';
import type { DurableAuditSink } from './sink.js';
import type { AuditStore } from './store.js';

/** The anchor's file name, in the node's config directory, unless `audit.anchorFile` puts it elsewhere. */
export const ANCHOR_FILE = 'audit.anchor';
/** How often a running node moves its anchor to the head, when the head has moved. */
export const ANCHOR_INTERVAL_MS = 5000;

const VERSION = 1;
const MAC_LABEL = 'portcullis-audit-anchor\n';
const HEX64 = /^[0-9a-f]{64}$/;
const OVERRIDE = 'start the node with --accept-audit-rollback';
const MOVE_IT = 'set audit.anchorFile (PORTCULLIS_AUDIT__ANCHOR_FILE) to a file on a volume the node can write (not a read-only mount such as a Kubernetes ConfigMap or Secret), or make that directory writable';

function unwritable(file: string, why: string, cause: unknown): PortcullisError {
  return new PortcullisError('audit.anchor-unwritable', `the audit anchor ${file} cannot be written: ${why}; ${MOVE_IT}`, { cause });
}

/** A (seq, hash) of the trail: seq 0 is the empty trail. */
export interface AnchoredHead {
  seq: number;
  hash: string;
}

/** What an anchor file holds: nothing, a head whose MAC verifies, or something that cannot be trusted (`reason`, for the audit event). */
export type AnchorRead = { kind: 'missing' } | { kind: 'valid'; head: AnchoredHead } | { kind: 'invalid'; reason: string; message: string };

/** What the trail says about an anchored head: it still holds it, or not (`message` for `audit.rolled-back`). */
export type AnchorCheck =
  | { ok: true }
  | {
      ok: false;
      /** The newest event the trail holds now (seq 0 and null: none). */
      end: { seq: number; hash: string | null };
      /** The first seq that is not as the node saw it. */
      brokenAt: number;
      message: string;
    };

/** The key that authenticates anchors, derived from the audit key. */
export class AnchorKey {
  private readonly key: KeyObject;
  /** Names the key in the file (reveals nothing of it): an anchor under another key was written for another database. */
  readonly id: string;

  constructor(headKey: AuditHeadKey) {
    this.key = headKey.derive('audit-anchor');
    this.id = createHmac('sha256', this.key).update('portcullis-audit-anchor-key-id').digest('base64url').slice(0, 16);
  }

  mac(head: AnchoredHead): string {
    return createHmac('sha256', this.key).update(`${MAC_LABEL}${VERSION}\n${head.seq}\n${head.hash}`).digest('hex');
  }

  /** Whether `mac` is this key's MAC of `head` (compared in constant time). */
  verifies(head: AnchoredHead, mac: string): boolean {
    const want = Buffer.from(this.mac(head), 'hex');
    const got = Buffer.from(mac, 'hex');
    return got.length === want.length && timingSafeEqual(got, want);
  }
}

/** Reads and authenticates the anchor file. */
export function readAnchor(file: string, key: AnchorKey): AnchorRead {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    const reason = `cannot be read: ${fsErrorText(e)}`;
    return { kind: 'invalid', reason, message: `the audit anchor ${file} ${reason}; make it readable by the node, or investigate, and if the database is as it should be, ${OVERRIDE}` };
  }
  const damaged = (reason: string): AnchorRead => ({ kind: 'invalid', reason, message: `the audit anchor ${file} is not an audit anchor (${reason}): it was damaged or edited; investigate, and if the database is as it should be, ${OVERRIDE}` });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return damaged('not JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return damaged('not a JSON object');
  const o = value as Record<string, unknown>;
  if (Object.keys(o).sort().join(',') !== 'hash,key,mac,seq,v') return damaged('its members are not v, seq, hash, key and mac');
  if (o.v !== VERSION) return damaged(`version ${JSON.stringify(o.v)}, not ${VERSION}`);
  if (typeof o.seq !== 'number' || !Number.isSafeInteger(o.seq) || o.seq < 0) return damaged('its seq is not a whole number');
  if (typeof o.hash !== 'string' || !HEX64.test(o.hash) || typeof o.mac !== 'string' || !HEX64.test(o.mac)) return damaged('its hash or mac is not 64 hex digits');
  if (typeof o.key !== 'string') return damaged('its key is not a string');
  const head = { seq: o.seq, hash: o.hash };
  if (o.key !== key.id) {
    return {
      kind: 'invalid',
      reason: 'another audit key',
      message: `the audit anchor ${file} was written under another audit key than this database's: the database is not the one this node last ran on (another deployment's, or a copy made before its audit key), or the anchor was forged; investigate, and if the database is as it should be, ${OVERRIDE}`,
    };
  }
  if (!key.verifies(head, o.mac)) {
    return { kind: 'invalid', reason: 'HMAC does not verify', message: `the audit anchor ${file} does not verify (its HMAC is wrong): it was altered or forged, so this node cannot tell whether the database was rolled back; investigate, and if the database is as it should be, ${OVERRIDE}` };
  }
  return { kind: 'valid', head };
}

/** Writes the anchor file atomically: a temp file (0600, fsynced) renamed over it, then the directory fsynced. */
export function writeAnchor(file: string, key: AnchorKey, head: AnchoredHead): void {
  const tmp = `${file}.tmp`;
  // a temp file a crash left behind is ours to replace
  rmSync(tmp, { force: true });
  writeNewFileSync(tmp, `${JSON.stringify({ v: VERSION, seq: head.seq, hash: head.hash, key: key.id, mac: key.mac(head) })}\n`);
  try {
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  try {
    fsyncDirectoryOf(file);
  } catch (e) {
    // not supported on every platform (Windows); the rename itself is atomic
    if (process.platform !== 'win32') throw e;
  }
}

/**
 * Whether the trail still holds `anchor`: an event at its seq with its hash.
 *
 * @example
 * const r = await anchorHolds(store, { seq: 42, hash: 'a3f1…' });
 * if (!r.ok) throw new PortcullisError('audit.rolled-back', r.message);
 */
export async function anchorHolds(store: Pick<AuditStore, 'listAudit' | 'tailAudit'>, anchor: AnchoredHead): Promise<AnchorCheck> {
  if (anchor.seq === 0) return { ok: true };
  const [row] = await store.listAudit(anchor.seq - 1, 1);
  if (row !== undefined && row.seq === anchor.seq && row.hash === anchor.hash) return { ok: true };
  const [last] = await store.tailAudit(1);
  const end = { seq: last?.seq ?? 0, hash: last?.hash ?? null };
  const advice = `(after a legitimate restore, ${OVERRIDE})`;
  if (end.seq < anchor.seq) {
    return { ok: false, end, brokenAt: end.seq + 1, message: `the audit trail ends at seq ${end.seq} but this node last saw seq ${anchor.seq} (hash ${anchor.hash}): the database was restored from an older copy or its newest events were removed ${advice}` };
  }
  if (row === undefined || row.seq !== anchor.seq) {
    return { ok: false, end, brokenAt: anchor.seq, message: `the audit trail has no event at seq ${anchor.seq}, which this node saw (hash ${anchor.hash}; the trail now ends at seq ${end.seq}): its events were removed ${advice}` };
  }
  return {
    ok: false,
    end,
    brokenAt: anchor.seq,
    message: `the audit trail's event at seq ${anchor.seq} has hash ${row.hash}, but this node saw seq ${anchor.seq} with hash ${anchor.hash} (the trail now ends at seq ${end.seq}): the database was restored from an older copy or its events were replaced ${advice}`,
  };
}

type AnchorStore = Pick<AuditStore, 'auditHead' | 'listAudit' | 'tailAudit'>;

/**
 * A node's anchor: checked at start (`open`), moved to the head on a timer while the node
 * runs, and at a clean stop (`close`).
 *
 * @example
 * const anchor = await AuditAnchor.open({ file: resolveIn(dir, config.audit.anchorFile), store, headKey, audit, logger, now, accept: false });
 * anchor.start();
 * // … at a clean stop, after the audit trail's last flush:
 * await anchor.close();
 */
export class AuditAnchor {
  /** What the file holds (null: nothing written yet). */
  private last: AnchoredHead | null = null;
  private timer: NodeJS.Timeout | undefined;
  private updating: Promise<void> = Promise.resolve();
  /** Whether the head was last seen behind the anchor (logged once, until it is not). */
  private behind = false;
  private failing = false;
  private closed = false;

  private constructor(
    readonly file: string,
    private readonly key: AnchorKey,
    private readonly store: AnchorStore,
    private readonly headKey: AuditHeadKey,
    private readonly logger: Logger,
  ) {}

  /**
   * Checks the anchor against the trail, then writes it at the trail's head (its missing
   * directories are made, mode 0700); a file that cannot be written is
   * `audit.anchor-unwritable`. A missing anchor is made. An anchor the trail no longer holds is `audit.rolled-back`, one that
   * cannot be trusted `audit.anchor-invalid`; with `accept` (the operator's
   * `--accept-audit-rollback`) either is audited (`audit.rollback-accepted`,
   * `audit.anchor-replaced`) and the anchor rewritten at the head instead.
   */
  static async open(opts: { file: string; store: AnchorStore; headKey: AuditHeadKey; audit: DurableAuditSink; logger: Logger; now: () => number; accept: boolean }): Promise<AuditAnchor> {
    const { file, store, audit, logger, accept } = opts;
    const anchor = new AuditAnchor(file, new AnchorKey(opts.headKey), store, opts.headKey, logger);
    try {
      makeDirectorySync(dirname(file), 0o700);
    } catch (e) {
      if (e instanceof MakeDirectoryError) throw unwritable(file, e.message, e);
      throw e;
    }
    const read = readAnchor(file, anchor.key);
    if (read.kind === 'missing') {
      await anchor.update(true, true);
      if (anchor.last !== null) logger.info({ file, seq: anchor.last.seq }, 'made the audit anchor (the newest audit event this node has seen), as there was none');
      else logger.warn({ file }, 'made no audit anchor yet: the recorded head of the audit chain is not authenticated (run `portcullis audit verify`)');
      return anchor;
    }
    if (read.kind === 'invalid') {
      if (!accept) throw new PortcullisError('audit.anchor-invalid', read.message);
      const head = await anchor.readHead();
      audit.record({ time: opts.now(), type: 'audit.anchor-replaced', actor: 'cli', data: { reason: read.reason, headSeq: head?.seq ?? null, headHash: head?.hash ?? null } });
      await audit.flush();
      await anchor.update(true, true);
      logger.warn({ file, reason: read.reason, seq: anchor.last?.seq ?? null }, 'replaced the audit anchor that could not be trusted (--accept-audit-rollback)');
      return anchor;
    }
    const check = await anchorHolds(store, read.head);
    if (check.ok) {
      anchor.last = read.head;
      if (accept) logger.info({ file, seq: read.head.seq }, '--accept-audit-rollback: the audit trail holds what this node saw; nothing to accept');
      await anchor.update(false, true);
      return anchor;
    }
    if (!accept) throw new PortcullisError('audit.rolled-back', check.message);
    audit.record({ time: opts.now(), type: 'audit.rollback-accepted', actor: 'cli', data: { anchorSeq: read.head.seq, anchorHash: read.head.hash, headSeq: check.end.seq, headHash: check.end.hash } });
    await audit.flush();
    await anchor.update(true, true);
    logger.warn({ anchorSeq: read.head.seq, headSeq: check.end.seq }, 'accepted an audit trail set back from what this node saw (--accept-audit-rollback); the audit anchor now names its head');
    return anchor;
  }

  /** Moves the anchor to the head every `intervalMs` while the head has moved. */
  start(intervalMs = ANCHOR_INTERVAL_MS): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = setInterval(() => {
      void this.update(false, false);
    }, intervalMs);
    this.timer.unref();
  }

  /** Stops the timer; with `write` (a clean stop), moves the anchor to the head a last time. Never throws. */
  async close(write = true): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.closed) return;
    this.closed = true;
    if (write) await this.update(false, false);
    else await this.updating;
  }

  /**
   * Whether the trail holds what this node saw (for `audit verify`): the newest head the
   * node anchored while it runs, which a file deleted or put back as an older copy of its
   * own does not set back, then what the file states, read again, so what a restart would
   * find is reported.
   */
  async verify(): Promise<{ ok: true } | { ok: false; code: 'audit.rolled-back' | 'audit.anchor-invalid'; brokenAt?: number; reason: string }> {
    const read = readAnchor(this.file, this.key);
    if (read.kind === 'invalid') return { ok: false, code: 'audit.anchor-invalid', reason: read.message };
    for (const saw of [this.last, read.kind === 'valid' ? read.head : null]) {
      if (saw === null) continue;
      const check = await anchorHolds(this.store, saw);
      if (!check.ok) return { ok: false, code: 'audit.rolled-back', brokenAt: check.brokenAt, reason: check.message };
    }
    return { ok: true };
  }

  /** The recorded head when the audit key authenticates it, else null (verify reports such a head). */
  private async readHead(): Promise<AnchoredHead | null> {
    const head = await this.store.auditHead();
    return head !== null && this.headKey.authenticates(head) ? { seq: head.seq, hash: head.hash } : null;
  }

  /**
   * Writes the head when it is past the anchor (`force`: whatever it is, after an accepted
   * rollback); one update at a time. At start (`strict`) it is written even where the head
   * has not moved, so that a file that cannot be written is found then, and is
   * `audit.anchor-unwritable`; on the timer a failure is logged and retried.
   */
  private update(force: boolean, strict: boolean): Promise<void> {
    const run = this.updating.then(() => this.updateNow(force, strict));
    this.updating = run.catch(() => undefined);
    return run;
  }

  private async updateNow(force: boolean, strict: boolean): Promise<void> {
    try {
      const head = await this.readHead();
      // verify reports such a head; the anchor names only heads Portcullis wrote
      if (head === null) return;
      const last = this.last;
      if (!force && last !== null) {
        const same = head.seq === last.seq && head.hash === last.hash;
        if (same && !strict) return;
        if (!same && head.seq <= last.seq) {
          // never backwards: the anchor keeps what the node saw, and verify (or the next start) reports it
          if (!this.behind) this.logger.error({ headSeq: head.seq, anchorSeq: last.seq }, 'the audit trail was set back while this node ran: its head is not past what the node saw; the audit anchor is kept, and `portcullis audit verify` reports it');
          this.behind = true;
          return;
        }
      }
      this.behind = false;
      writeAnchor(this.file, this.key, head);
      this.last = head;
      if (this.failing) this.logger.info({ file: this.file, seq: head.seq }, 'the audit anchor is written again');
      this.failing = false;
    } catch (err) {
      if (strict) {
        if (err instanceof PortcullisError) throw err;
        throw unwritable(this.file, fsErrorText(err), err);
      }
      if (!this.failing) this.logger.error({ err, file: this.file }, `could not move the audit anchor to the head of the trail; will retry (${MOVE_IT})`);
      this.failing = true;
    }
  }
}
