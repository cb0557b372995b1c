/**
 * The docs' runnable examples, run as written: README's "Quick start" and "Protect an API in
 * four steps", the `## Example: …` section of each protection page, and the command lists of
 * the pages' reference sections (apps, users, signing and encryption keys, webhooks, transit,
 * certificates), whose placeholders (`CLIENT_ID`, `SERIAL`, …) the test fills from glue of its
 * own (PAGES: an app, a key, the reader's own files; never an output). The ```sh blocks are
 * read from the markdown at test time and run by bash in a fresh directory, against a node
 * started from this checkout's source, and the output each line states is asserted.
 *
 * How a page is read:
 * - A command is a line with its `\` continuations and heredoc bodies. All of a page's
 *   commands run in one bash process (variables carry from block to block), each between
 *   markers that capture its output (stdout and stderr) and its exit status.
 * - A trailing `# …` comment on a command, and the `# …` lines right under it, state its
 *   output; for a bare `VAR=$(…)` assignment, the value of VAR. `…` stands for anything;
 *   otherwise the text is matched whole against one or more consecutive output lines, runs of
 *   whitespace counting as one space. A note in parentheses after two spaces is not output, and
 *   a comment that is only a note states none. "(printed by …)" in the note: a background job
 *   prints it, awaited for up to 15 s before the page ends. A plain ``` block right after a
 *   ```sh block is the output of its last command, line by line (`  # …` remarks removed).
 *   A command that states no output must exit 0.
 * - A `# …` line after a blank line (or first in a block) is a step header; when it says
 *   "restart", the node is restarted at the end of that step; when it says "stop every node",
 *   the node is stopped at its start (a later `portcullis start` starts it again).
 *
 * Glue (PRELUDE): the directory is laid out as this checkout after `npm install`: `dist/` is
 * src/ compiled once per run by esbuild (the transform tsx applies on the fly, done once in
 * 1-2 s: through tsx's loader hooks, module loading was most of the CPU of every CLI call and
 * node start, and the file used 1.7 times the CPU), `node_modules/` and `data/` are links.
 * `npx portcullis …` (and `portcullis …`, as the reference sections write it) runs
 * package.json's `bin.portcullis`, `npm start` runs its
 * `scripts.start` in the background and prints the node's output so far, `npm install` does
 * nothing. README's `npm test` block is not run (it is this suite). `portcullis start …` runs
 * in the background too, as the page's node, once it serves; when it exits instead (it
 * refused to start), it prints its output and exits with the node's status.
 *
 * Ports: the suite runs two files at a time (scripts/test.mjs), and the pages here run two at
 * a time too, so the docs' fixed ports (8080, 8443, 8081, 9000 and 9001) cannot be used as
 * they are. Each page gets free ports: the node and the CLI read them from PORTCULLIS_ISSUER
 * and PORTCULLIS_LISTEN__* (overrides both honour, docs/configuration.md), and the doc's
 * `127.0.0.1:PORT` URLs and `.listen(PORT)` calls get them by text replacement. A default
 * port left in a block afterwards fails the page, so a new spelling is never run against a
 * fixed port by accident.
 *
 * Processes: each page runs in a process group of its own, killed with its directory when the
 * page ends, when this process exits or is stopped (SIGINT, SIGTERM, SIGHUP) and when the
 * test runner that started it is gone; and a watchdog in the group kills the group when this
 * process is gone (SIGKILL), so no node is left holding ports and files.
 *
 * Needs bash, curl and openssl, as the pki-node tests do (`.ci/run` installs them). A page
 * that needs another tool (`needs`) is skipped when it is not installed, saying so in its name.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: { portcullis: string }; scripts: { start: string } };

interface Page {
  file: string;
  /** Headings (prefixes) of the sections whose blocks run, in order; a section ends at the next heading of its level or above. */
  sections: string[];
  /** Blocks not run, by their exact text, and why. */
  notRun?: Record<string, string>;
  /**
   * A reference section's placeholders (`CLIENT_ID`, `SERIAL`, …): each, as a word of its own
   * (not `$CLIENT_ID`), runs as the shell variable of that name, which the glue sets.
   */
  placeholders?: string[];
  /**
   * Glue run before a section's blocks (by its heading, as in `sections`): what a reader has at
   * hand there and the page does not make (an app, a file of their own), and the placeholders'
   * values. It states no output and must exit 0.
   */
  glue?: Record<string, string>;
  /** Programs the page's commands run besides bash, curl, openssl and node: the page is skipped without them. */
  needs?: string[];
}

/** The glue's way to an app: `VAR_ID` and `VAR_SECRET` of a new app created with these arguments. */
const gluedApp = (prefix: string, args: string) =>
  `__glue=$(npx portcullis app create ${args} --json) && ${prefix}_ID=$(echo "$__glue" | node -pe 'JSON.parse(require("fs").readFileSync(0)).client_id') && ${prefix}_SECRET=$(echo "$__glue" | node -pe 'JSON.parse(require("fs").readFileSync(0)).client_secret')`;
const CLIENT = (args: string) => gluedApp('CLIENT', args);

/** Glue of operations.md: the directory `npm start` made, as its commands' `DIR`. */
const OPERATIONS_DIR = 'DIR=.portcullis';

const PAGES: Page[] = [
  { file: 'README.md', sections: ['## Quick start', '## Protect an API in four steps'], notRun: { 'npm test': 'the test suite itself' } },
  { file: 'docs/tokens.md', sections: ['## Example:'] },
  { file: 'docs/mfa.md', sections: ['## Example:'] },
  { file: 'docs/signatures.md', sections: ['## Example:'] },
  { file: 'docs/encryption.md', sections: ['## Example:'] },
  { file: 'docs/certificates.md', sections: ['## Example:'] },
  // The reference sections' command lists, with their placeholders filled in.
  {
    file: 'docs/tokens.md',
    sections: ['## Apps', '## Getting a token', '## Revocation and introspection'],
    placeholders: ['CLIENT_ID'],
    glue: {
      '## Apps': CLIENT('reports --audience billing-api'),
      '## Getting a token': CLIENT('billing --audience billing-api --scope invoices:read --scope invoices:write'),
      '## Revocation and introspection': `TOKEN=$(curl -s --cacert .portcullis/ca.pem -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials https://127.0.0.1:8080/oauth2/token | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')`,
    },
  },
  { file: 'docs/mfa.md', sections: ['## Users'], placeholders: ['EMAIL'], glue: { '## Users': 'EMAIL=alice@example.com' } },
  {
    file: 'docs/signatures.md',
    sections: ['## App signing keys', '## Signed responses and webhooks'],
    placeholders: ['CLIENT_ID', 'KEYID', 'WEBHOOK_ID'],
    glue: {
      '## App signing keys': [
        CLIENT('payments-client --audience payments-api'),
        'openssl genpkey -algorithm ed25519 -out app.key 2>/dev/null && openssl pkey -in app.key -pubout -out app.pub.pem',
        `node -e "const { publicKey } = require('crypto').generateKeyPairSync('ec', { namedCurve: 'P-256' }); require('fs').writeFileSync('app.pub.jwk', JSON.stringify(publicKey.export({ format: 'jwk' })))"`,
        'openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key 2>/dev/null && openssl pkey -in rsa.key -pubout -out rsa.pub.pem',
        `KEYID=$(npx portcullis app keys add $CLIENT_ID --hmac --json | node -pe 'JSON.parse(require("fs").readFileSync(0)).key.keyid')`,
      ].join(' && '),
      '## Signed responses and webhooks': `WEBHOOK_ID=$(npx portcullis webhooks add https://hooks.example.com/other --event key.rotated --json | node -pe 'JSON.parse(require("fs").readFileSync(0)).id')`,
    },
  },
  {
    file: 'docs/encryption.md',
    sections: ['## Keys', '## Encryption as a service (transit)'],
    placeholders: ['CLIENT_ID', 'KID'],
    glue: {
      '## Keys': [
        CLIENT('records-client --audience records-api'),
        `node -e "const { publicKey } = require('crypto').generateKeyPairSync('x25519'); require('fs').writeFileSync('app-enc.pub.jwk', JSON.stringify(publicKey.export({ format: 'jwk' })))"`,
        `KID=$(npx portcullis app enc-keys add $CLIENT_ID --symmetric --json | node -pe 'JSON.parse(require("fs").readFileSync(0)).key.kid')`,
      ].join(' && '),
    },
  },
  {
    file: 'docs/certificates.md',
    sections: ['## Trusting the CA', '## Issuing, renewing, revoking'],
    placeholders: ['CLIENT_ID', 'SERIAL'],
    glue: {
      '## Trusting the CA': `echo "const r = await fetch('https://127.0.0.1:8080/jwks'); if (!r.ok) process.exit(1);" > app.mjs`,
      '## Issuing, renewing, revoking': [
        CLIENT('ledger-client --audience ledger-api'),
        'openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout app.key -subj /CN=app -out app.csr 2>/dev/null',
        'echo "a PKCS#12 password" > pw.txt',
        `SERIAL=$(npx portcullis cert issue --client-id $CLIENT_ID --csr app.csr --json | node -pe 'JSON.parse(require("fs").readFileSync(0)).serial')`,
      ].join(' && '),
    },
  },
  // Operations: one node's probes and master key rotation; a backup, a restore and the start that accepts its rollback.
  { file: 'docs/operations.md', sections: ['## Health and metrics', '## Rotating the master key'], placeholders: ['DIR'], glue: { '## Health and metrics': OPERATIONS_DIR } },
  {
    file: 'docs/operations.md',
    sections: ['### Backing up', '### Restoring'],
    placeholders: ['DIR'],
    needs: ['sqlite3'],
    // what happened since the backup: an app made, whose audit event the copy lacks and the node saw
    glue: { '### Backing up': OPERATIONS_DIR, '### Restoring': CLIENT('made-after-the-backup --audience orders-api') },
  },
];

const DEFAULT_PORTS = { identity: 8080, gateway: 8443, admin: 8081, upstream: 9000, receiver: 9001 } as const;
type Ports = Record<keyof typeof DEFAULT_PORTS, number>;

const PRELUDE = String.raw`
exec 2>&1
__docs_root=$PWD
# the watchdog: once the test process is gone (even by SIGKILL), the page's whole process group
# goes, node and upstreams with it, and the page's and the build's directories
( while kill -0 "$DOCS_TEST_PID" 2>/dev/null; do sleep 1; done
  trap '' TERM; kill -TERM 0; sleep 1; cd / && rm -rf "$__docs_root" "$DOCS_BUILD_DIR"; kill -KILL 0 ) </dev/null >/dev/null 2>&1 &
__docs_n=0
# starts the page's node in the background with the command $1; 0 once it serves, else 1 and
# the node's exit status in __docs_status (its output is in $__docs_log)
__docs_serve() {
  __docs_n=$((__docs_n + 1)); __docs_log=node.$__docs_n.log
  ( eval "exec $1" ) >"$__docs_log" 2>&1 &
  __docs_pid=$!
  for _ in $(seq 1 1800); do
    grep -q '^portcullis: serving' "$__docs_log" && return 0
    kill -0 "$__docs_pid" 2>/dev/null || { wait "$__docs_pid"; __docs_status=$?; return 1; }
    sleep 0.1
  done
  __docs_status=1
  return 1
}
portcullis_start() {
  __docs_serve "$DOCS_START" && return 0
  printf '\n\036fatal the node did not start\036\n'; cat "$__docs_log"; exit 1
}
portcullis_stop() {
  kill -TERM "$__docs_pid" && wait "$__docs_pid" || { printf '\n\036fatal the node did not stop cleanly\036\n'; cat "$__docs_log"; exit 1; }
}
portcullis() { npx portcullis "$@"; }
npx() {
  if [ "$1" = portcullis ] && [ "$2" = start ]; then
    shift 2
    __docs_serve "node $(printf '%q ' "$__docs_root/$DOCS_BIN" start "$@")" && { cat "$__docs_log"; return 0; }
    cat "$__docs_log"; return "$__docs_status"
  fi
  if [ "$1" = portcullis ]; then shift; node "$__docs_root/$DOCS_BIN" "$@"; else echo "docs test: npx $1 is not provided" >&2; return 127; fi
}
npm() {
  case "$*" in
    install) ;;
    start) portcullis_start && cat "$__docs_log" ;;
    *) echo "docs test: npm $* is not provided" >&2; return 127 ;;
  esac
}
__docs_begin() { printf '\n\036begin %s\036\n' "$1"; }
__docs_end() { printf '\n\036end %s %s\036\n' "$1" "$2"; }
__docs_value() { printf '\036value %s\036\n%s\n\036/value\036\n' "$1" "$2"; }
`;

const EPILOGUE = String.raw`
portcullis_stop
kill $(jobs -p) 2>/dev/null
wait
printf '\n\036done\036\n'
`;

// ---- reading the markdown ----

interface Block {
  lang: string;
  text: string;
  /** 1-based line of the block's first body line in the file. */
  line: number;
  /** Only whitespace between the previous block and this one. */
  adjacent: boolean;
}

function sectionBlocks(md: string, heading: string, file: string): Block[] {
  const lines = md.split('\n');
  const start = lines.findIndex((l) => l.startsWith(heading));
  assert.ok(start >= 0, `${file}: no section "${heading}"`);
  const blocks: Block[] = [];
  let fence: { lang: string; from: number; body: string[] } | undefined;
  let between = '';
  const end = new RegExp(`^#{1,${/^#+/.exec(heading)![0].length}} `);
  for (let i = start + 1; i < lines.length; i++) {
    const l = lines[i]!;
    if (fence) {
      if (l.startsWith('```')) {
        blocks.push({ lang: fence.lang, text: fence.body.join('\n'), line: fence.from + 2, adjacent: blocks.length > 0 && between.trim() === '' });
        fence = undefined;
        between = '';
      } else fence.body.push(l);
      continue;
    }
    if (end.test(l)) break;
    const m = /^```(\w*)\s*$/.exec(l);
    if (m) fence = { lang: m[1]!, from: i, body: [] };
    else between += `${l}\n`;
  }
  assert.equal(fence, undefined, `${file}: unterminated code block in "${heading}"`);
  return blocks;
}

interface Expectation {
  text: string;
  /** Printed by a background job, some time after the command. */
  async: boolean;
  where: string;
}

interface Command {
  kind: 'command';
  text: string;
  where: string;
  expects: Expectation[];
  /** The variable a bare `VAR=$(…)` assignment sets. */
  assigns?: string;
}

type Item = Command | { kind: 'restart' } | { kind: 'stop' };

/** Splits a shell line into code and a trailing comment (a `#` that starts a word outside quotes). */
function splitComment(line: string): { code: string; comment?: string } {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '\\') i++;
    else if (c === "'" || c === '"') quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) return { code: line.slice(0, i), comment: line.slice(i + 1).trim() };
  }
  return { code: line };
}

function expectation(comment: string, where: string): Expectation | undefined {
  if (/^\(.*\)$/.test(comment)) return undefined;
  const m = /^(.*\S)\s{2,}\(([^()]*)\)$/.exec(comment);
  if (!m) return { text: comment, async: false, where };
  return { text: m[1]!, async: /^printed by\b/.test(m[2]!), where };
}

function parseSh(block: Block, file: string): Item[] {
  const lines = block.text.split('\n');
  const items: Item[] = [];
  let above: Command | undefined;
  let restartAtEndOfStep = false;
  const endStep = () => {
    if (restartAtEndOfStep) items.push({ kind: 'restart' });
    restartAtEndOfStep = false;
  };
  for (let i = 0; i < lines.length; ) {
    const where = `${file}:${block.line + i}`;
    const line = lines[i]!;
    if (line.trim() === '') {
      above = undefined;
      i++;
    } else if (/^\s*#/.test(line)) {
      const text = line.replace(/^\s*#\s?/, '');
      if (above) {
        const e = expectation(text.trim(), where);
        if (e) above.expects.push(e);
      } else {
        endStep();
        if (/\bstop every node\b/i.test(text)) items.push({ kind: 'stop' });
        restartAtEndOfStep = /\brestart\b/i.test(text);
      }
      i++;
    } else {
      const body: string[] = [];
      let comment: string | undefined;
      let last = '';
      for (;;) {
        assert.ok(i < lines.length, `${where}: the command does not end inside its block`);
        last = lines[i++]!;
        body.push(last);
        const split = splitComment(last);
        comment = split.comment;
        const heredocs = [...split.code.matchAll(/<<-?\s*(['"]?)([A-Za-z_]\w*)\1/g)].map((m) => m[2]!);
        for (const word of heredocs) {
          while (lines[i] !== undefined && lines[i]!.trim() !== word) body.push(lines[i++]!);
          assert.ok(i < lines.length, `${where}: heredoc ${word} does not end inside its block`);
          body.push(lines[i++]!);
        }
        if (heredocs.length || !/\\$/.test(split.code.trimEnd())) break;
      }
      const text = body.join('\n');
      const code = body.map((l, k) => (k === body.length - 1 && l === last ? splitComment(l).code : l)).join('\n').trim();
      const assign = /^(?:export\s+)?([A-Za-z_]\w*)=\$\(/.exec(code);
      const cmd: Command = { kind: 'command', text, where, expects: [], assigns: assign && code.endsWith(')') ? assign[1] : undefined };
      if (comment) {
        const e = expectation(comment, `${file}:${block.line + i - 1}`);
        if (e) cmd.expects.push(e);
      }
      items.push(cmd);
      above = cmd;
    }
  }
  endStep();
  return items;
}

/** The page's commands, in order, with the output blocks' lines attached to the command above them. */
function readPage(page: Page, ports: Ports): Item[] {
  const md = readFileSync(join(ROOT, page.file), 'utf8');
  const items: Item[] = [];
  const fill = (text: string) => (page.placeholders?.length ? text.replace(new RegExp(`(?<![\\w$])(${page.placeholders.join('|')})(?!\\w)`, 'g'), '"$$$1"') : text);
  for (const heading of page.sections) {
    let lastRun: Command | undefined;
    const glue = page.glue?.[heading];
    if (glue !== undefined) items.push({ kind: 'command', text: withPorts(glue, ports, `${page.file}: glue of "${heading}"`), where: `${page.file}: the test's glue of "${heading}"`, expects: [] });
    for (const block of sectionBlocks(md, heading, page.file)) {
      if (block.lang === 'sh') {
        if (page.notRun?.[block.text.trim()] !== undefined) {
          lastRun = undefined;
          continue;
        }
        const text = fill(withPorts(block.text, ports, `${page.file}:${block.line}`));
        const parsed = parseSh({ ...block, text }, page.file);
        items.push(...parsed);
        lastRun = parsed.filter((x): x is Command => x.kind === 'command').at(-1);
      } else if (block.lang === '') {
        assert.ok(lastRun && block.adjacent, `${page.file}:${block.line}: an output block that follows no command`);
        const text = withPorts(block.text, ports, `${page.file}:${block.line}`);
        text.split('\n').forEach((l, k) => {
          const expected = l.replace(/\s{2,}#.*$/, '').trim();
          if (expected) lastRun!.expects.push({ text: expected, async: false, where: `${page.file}:${block.line + k}` });
        });
        lastRun = undefined;
      } else lastRun = undefined; // a fragment in another language (```js, ```yaml): read, not run
    }
  }
  return items;
}

function withPorts(text: string, ports: Ports, where: string): string {
  let out = text;
  for (const [name, port] of Object.entries(DEFAULT_PORTS) as [keyof Ports, number][]) {
    out = out.replaceAll(`127.0.0.1:${port}`, `127.0.0.1:${ports[name]}`).replaceAll(`.listen(${port})`, `.listen(${ports[name]})`);
  }
  const left = new RegExp(`\\b(${Object.values(DEFAULT_PORTS).join('|')})\\b`).exec(out);
  assert.equal(left, null, `${where}: default port ${left?.[1]} in a form the test does not move to a free port`);
  return out;
}

// ---- running ----

function script(items: Item[], startFirst: boolean, settle: boolean): string {
  let s = PRELUDE + (startFirst ? 'portcullis_start\n' : '');
  items.forEach((item, k) => {
    if (item.kind === 'restart') s += 'portcullis_stop\nportcullis_start\n';
    else if (item.kind === 'stop') s += 'portcullis_stop\n';
    else {
      s += `__docs_begin ${k}\n${item.text}\n__docs_end ${k} $?\n`;
      if (item.assigns && item.expects.length) s += `__docs_value ${k} "$${item.assigns}"\n`;
    }
  });
  if (settle) s += `printf '\\n\\036settle\\036\\n'; read -r -t 60 _\n`;
  return s + EPILOGUE;
}

const squash = (s: string) => s.replace(/\s+/g, ' ').trim();

function pattern(expected: string): RegExp {
  const body = squash(expected)
    .split('…')
    .map((piece) => piece.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`);
}

/** The end (exclusive) of the first run of lines from `from` on that matches, or -1. */
function findLines(lines: string[], from: number, re: RegExp): number {
  for (let i = from; i < lines.length; i++) {
    let joined = '';
    for (let j = i; j < Math.min(lines.length, i + 60); j++) {
      joined = squash(`${joined} ${lines[j]}`);
      if (re.test(joined)) return j + 1;
    }
  }
  return -1;
}

const MARKER = /^\x1e(\S+)(?: (\S+))?(?: (\S+))?\x1e$/;

interface Transcript {
  output: Map<number, string[]>;
  status: Map<number, number>;
  value: Map<number, string[]>;
  /** Lines that are not markers, after each command's begin marker (for background output). */
  after: Map<number, string[]>;
  fatal?: string;
  done: boolean;
}

function readTranscript(raw: string): Transcript {
  const t: Transcript = { output: new Map(), status: new Map(), value: new Map(), after: new Map(), done: false };
  let current: string[] | undefined;
  const all: string[] = [];
  const begins = new Map<number, number>();
  const lines = raw.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const fatal = /^\x1efatal (.*)\x1e$/.exec(lines[i]!);
    if (fatal) {
      t.fatal = `${fatal[1]}:\n${lines.slice(i + 1).join('\n')}`;
      break;
    }
    const m = MARKER.exec(lines[i]!);
    if (!m) {
      if (lines[i]!.trim()) {
        current?.push(lines[i]!);
        all.push(lines[i]!);
      }
      continue;
    }
    const [, what, a, b] = m;
    const k = Number(a);
    if (what === 'begin') {
      current = [];
      t.output.set(k, current);
      begins.set(k, all.length);
    } else if (what === 'end') {
      t.status.set(k, Number(b));
      current = undefined;
    } else if (what === 'value') {
      current = [];
      t.value.set(k, current);
    } else if (what === '/value') current = undefined;
    else if (what === 'done') t.done = true;
  }
  for (const [k, at] of begins) t.after.set(k, all.slice(at));
  return t;
}

/** At most 30 lines of at most 300 characters: enough to see what happened. */
function excerpt(lines: string[]): string {
  const cut = lines.slice(0, 30).map((l) => (l.length > 300 ? `${l.slice(0, 300)}…` : l));
  if (lines.length > 30) cut.push(`… (${lines.length - 30} more lines)`);
  return cut.join('\n      ');
}

function checkPage(items: Item[], t: Transcript): string[] {
  const failures: string[] = [];
  items.forEach((item, k) => {
    if (item.kind !== 'command') return;
    const head = item.text.split('\n')[0]!.slice(0, 100);
    const out = t.output.get(k);
    if (out === undefined) return failures.push(`${item.where}: never ran: ${head}`);
    const shown = () => `\n    output:\n      ${excerpt(item.assigns && item.expects.length ? (t.value.get(k) ?? []) : out)}`;
    if (!item.expects.length) {
      if (t.status.get(k) !== 0) failures.push(`${item.where}: exit status ${t.status.get(k)}: ${head}${shown()}`);
      return;
    }
    let from = 0;
    const lines = item.assigns ? (t.value.get(k) ?? []) : out;
    for (const e of item.expects) {
      if (e.async) {
        if (findLines(t.after.get(k) ?? [], 0, pattern(e.text)) < 0) failures.push(`${e.where}: no background job printed "${e.text}" after: ${head}`);
        continue;
      }
      const end = findLines(lines, from, pattern(e.text));
      if (end < 0) failures.push(`${e.where}: expected "${e.text}" from: ${head}${shown()}`);
      else from = end;
    }
  });
  return failures;
}

/** Ports handed out so far: pages that run at the same time never share one. */
const taken = new Set<number>(Object.values(DEFAULT_PORTS));

async function freePorts(): Promise<Ports> {
  const one = async (): Promise<number> => {
    for (;;) {
      const server = createServer();
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as { port: number }).port;
      await new Promise((r) => server.close(r));
      if (!taken.has(port)) {
        taken.add(port);
        return port;
      }
    }
  };
  return { identity: await one(), gateway: await one(), admin: await one(), upstream: await one(), receiver: await one() };
}

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

/** The pages' process groups still running (by leader pid), with their directories. */
const running = new Map<number, string>();
/** The build directory, once made. */
let builtDir: string | undefined;

/** Kills every page's process group and removes its directory, and the build's: synchronous, for `exit` too. */
function killPages(): void {
  for (const [pid, dir] of running) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // the group has already exited
    }
    rmSync(dir, { recursive: true, force: true });
  }
  running.clear();
  if (builtDir !== undefined) rmSync(builtDir, { recursive: true, force: true });
}
process.on('exit', killPages);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killPages();
    // then as the signal would have done, unless the runner handles it too
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}
// the test runner killed: this process lives on as an orphan (another parent), its pages with it
const runner = process.ppid;
setInterval(() => {
  if (process.ppid !== runner) process.exit(1);
}, 1000).unref();

/** `dist/` (and the `node_modules/`, `data/` it reads beside it), built once for all pages. */
let built: Promise<string> | undefined;
function buildDist(): Promise<string> {
  built ??= (async () => {
    const base = mkdtempSync(join(tmpdir(), 'pc-docs-build-'));
    builtDir = base;
    symlinkSync(join(ROOT, 'node_modules'), join(base, 'node_modules'));
    symlinkSync(join(ROOT, 'data'), join(base, 'data'));
    await build({ entryPoints: sources(join(ROOT, 'src')), outdir: join(base, 'dist'), outbase: join(ROOT, 'src'), format: 'esm', platform: 'node', target: 'node20', logLevel: 'silent' });
    return base;
  })();
  return built;
}
after(async () => {
  if (built) rmSync(await built, { recursive: true, force: true });
  builtDir = undefined;
});

async function runPage(page: Page): Promise<void> {
  const ports = await freePorts();
  const items = readPage(page, ports);
  const commands = items.filter((x): x is Command => x.kind === 'command');
  assert.ok(commands.some((c) => c.expects.length), `${page.file}: no command with a stated output in ${page.sections.join(', ')}`);
  const asyncExpects = commands.flatMap((c) => c.expects.filter((e) => e.async).map((e) => ({ e, k: items.indexOf(c) })));
  const startFirst = !commands.some((c) => /(^|[;&|]\s*)npm start\b/m.test(c.text));

  const dir = mkdtempSync(join(tmpdir(), 'pc-docs-'));
  try {
    const base = await buildDist();
    for (const link of ['dist', 'node_modules', 'data']) symlinkSync(join(base, link), join(dir, link));
    writeFileSync(join(dir, 'example.sh'), script(items, startFirst, asyncExpects.length > 0));

    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PORTCULLIS_') && k !== 'NODE_TEST_CONTEXT' && k !== 'NODE_OPTIONS') env[k] = v;
    Object.assign(env, {
      PATH: `${dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      DOCS_BIN: PACKAGE.bin.portcullis,
      DOCS_START: PACKAGE.scripts.start,
      PORTCULLIS_ISSUER: `https://127.0.0.1:${ports.identity}`,
      PORTCULLIS_LISTEN__IDENTITY: `127.0.0.1:${ports.identity}`,
      PORTCULLIS_LISTEN__GATEWAY: `127.0.0.1:${ports.gateway}`,
      PORTCULLIS_LISTEN__ADMIN: `127.0.0.1:${ports.admin}`,
      DOCS_TEST_PID: String(process.pid),
      DOCS_BUILD_DIR: base,
    });
    // detached: a process group of its own, led by bash, which every process of the page joins
    const child = spawn('bash', ['example.sh'], { cwd: dir, env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    if (child.pid !== undefined) running.set(child.pid, dir);
    let raw = '';
    let settled = false;
    const settle = async () => {
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline) {
        const t = readTranscript(raw);
        if (asyncExpects.every(({ e, k }) => findLines(t.after.get(k) ?? [], 0, pattern(e.text)) >= 0)) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      child.stdin.end('\n');
    };
    if (!asyncExpects.length) child.stdin.end();
    child.stdout.on('data', (d: Buffer) => {
      raw += d.toString();
      if (!settled && raw.includes('\x1esettle\x1e')) {
        settled = true;
        void settle();
      }
    });
    child.stderr.on('data', (d: Buffer) => (raw += d.toString()));
    const killGroup = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL'); // the page's process group: anything the script left behind
      } catch {
        // the group has already exited
      }
      running.delete(child.pid!);
    };
    const guard = setTimeout(killGroup, 240_000);
    try {
      await new Promise<void>((resolve, reject) => {
        child.on('error', reject);
        child.stdout.on('close', () => resolve());
      });
    } finally {
      clearTimeout(guard);
      killGroup();
    }
    const t = readTranscript(raw);
    assert.equal(t.fatal, undefined, `${page.file}: ${t.fatal}`);
    const failures = checkPage(items, t);
    assert.ok(t.done || failures.length, `${page.file}: the script stopped early:\n${excerpt(raw.split('\n').slice(-30))}`);
    if (failures.length) assert.fail(`${page.file}: ${failures.length} line(s) do not do what the page says:\n  ${failures.join('\n  ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The page's section titles, as the test's name. */
function titles(page: Page): string {
  const md = readFileSync(join(ROOT, page.file), 'utf8').split('\n');
  return page.sections.map((h) => `"${(md.find((l) => l.startsWith(h)) ?? h).replace(/^#+ /, '')}"`).join(' and ');
}

// Two pages at a time: each has its own directory, node and ports.
describe('the docs\' runnable examples (bash, curl, openssl)', { concurrency: 2 }, () => {
  for (const page of PAGES) {
    const missing = (page.needs ?? []).filter((p) => spawnSync('sh', ['-c', `command -v ${p}`]).status !== 0);
    const skip = missing.length ? ` (skipped: ${missing.join(', ')} not installed)` : '';
    test(`${page.file}: ${titles(page)} runs and prints what the page says${skip}`, { timeout: 300_000, skip: missing.length > 0 }, () => runPage(page));
  }
});
