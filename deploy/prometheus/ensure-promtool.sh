#!/bin/sh
# Makes sure `promtool` (and `prometheus`) are on PATH, for the rule unit tests and the Prometheus
# integration test. Debian/Ubuntu's `prometheus` package provides both. Run as root (CI images) or
# with passwordless sudo; anything else gets a message saying what to install.
set -eu

if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "promtool not found and apt-get is unavailable: install Prometheus (it ships promtool)," >&2
  echo "e.g. from https://prometheus.io/download/ , and put promtool and prometheus on PATH." >&2
  exit 1
fi

if [ "$(id -u)" = "0" ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO="sudo -n"
else
  echo "promtool not found: run 'sudo apt-get install -y prometheus' (Debian/Ubuntu) and retry." >&2
  exit 1
fi

echo "installing promtool: apt-get install prometheus" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
$SUDO apt-get install -y -qq --no-install-recommends prometheus >&2
command -v promtool >/dev/null 2>&1
