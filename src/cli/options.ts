/**
 * Command-line options given more than once. An option that takes one value (or a
 * boolean flag) given twice is a mistake, often a script joining defaults and overrides
 * (`--ttl 5m … --ttl 1h`): refused as a usage error naming the flag instead of the last
 * one silently winning. Options meant to repeat say so: `<values...>` (variadic) or the
 * `collect` parser below.
 */
import type { EventEmitter } from 'node:events';
import type { Command, Option } from 'commander';

/** The parser of a repeatable option: `--dns a --dns b` → ['a', 'b']. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function repeatable(option: Option): boolean {
  return option.variadic || option.parseArg === collect;
}

/**
 * Makes every option of `cmd` and its subcommands that is not repeatable refuse a second
 * occurrence (`--name a --name=b`, `-n 5 --lines 6`, `--json --json`):
 * `error: usage: --name given twice`, exit 1, before any action runs.
 */
export function refuseRepeatedOptions(cmd: Command): void {
  for (const option of cmd.options as readonly Option[]) {
    if (repeatable(option)) continue;
    const key = option.attributeName();
    // before commander's own listener stores the value: a value from this command line already there is a repeat
    // (a Command is an EventEmitter; its typings declare only `on`)
    (cmd as unknown as EventEmitter).prependListener(`option:${option.name()}`, () => {
      if (cmd.getOptionValueSource(key) === 'cli') cmd.error(`error: ${option.long ?? option.short} given twice`, { code: 'portcullis.optionRepeated' });
    });
  }
  for (const sub of cmd.commands) refuseRepeatedOptions(sub);
}
