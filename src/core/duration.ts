/**
 * Durations in configuration: `500ms`, `30s`, `10m`, `2h`, `7d`, or a number of
 * seconds. Parsed once at config load into milliseconds.
 */

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/;

/**
 * Returns milliseconds, or undefined when the text is not a duration.
 * @example parseDuration('10m') === 600_000
 */
export function parseDuration(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.round(v * 1000) : undefined;
  const m = DURATION.exec(v.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNITS[m[2]!]!);
}

/** Formats milliseconds back to the shortest exact unit, for docs and logs. */
export function formatDuration(ms: number): string {
  for (const u of ['w', 'd', 'h', 'm', 's'] as const) {
    if (ms >= UNITS[u]! && ms % UNITS[u]! === 0) return `${ms / UNITS[u]!}${u}`;
  }
  return `${ms}ms`;
}

/** Byte sizes: `1mb`, `512kb`, `16KiB`, or a number of bytes. */
export function parseSize(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? v : undefined;
  const m = /^(\d+)\s*(b|kb|kib|mb|mib|gb|gib)?$/i.exec(v.trim());
  if (!m) return undefined;
  const mult: Record<string, number> = { b: 1, kb: 1024, kib: 1024, mb: 1 << 20, mib: 1 << 20, gb: 1 << 30, gib: 1 << 30 };
  return Number(m[1]) * mult[(m[2] ?? 'b').toLowerCase()]!;
}
