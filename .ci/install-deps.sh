#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine, as root
# (sudo only when not root), non-interactively, each only if missing: kcat,
# Java 17 and Maven (the integration suite), Chromium (the desk's browser
# tests), promtool (Debian package prometheus: the alert rules), then the
# Apache Kafka jars of both lines the integration suite runs on: the
# newest 4.x (deploy/kafka-local/pom.xml) and 3.9 (pom-3.9.xml), cached.
# Idempotent; prints nothing on success unless something was installed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export DEBIAN_FRONTEND=noninteractive
export CI=${CI:-true}

die() { echo "install-deps: $*" >&2; exit 1; }

missing=()
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn  >/dev/null 2>&1 || missing+=(maven)
command -v setsid >/dev/null 2>&1 || missing+=(util-linux)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)

if [ "${#missing[@]}" -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get to install them"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "missing ${missing[*]}: run as root (or with sudo available)"
    SUDO="sudo -n"
  fi
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  if ! { $SUDO apt-get update -qq && \
         $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; } </dev/null >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "apt-get install ${missing[*]} failed"
  fi
  echo "install-deps: installed ${missing[*]}"
fi

java -version >/dev/null 2>&1 </dev/null || die "java is installed but does not run"

# Quiet unless it has to download (kafka.sh prints to stderr only then).
"$ROOT/deploy/kafka-local/kafka.sh" install </dev/null >/dev/null
PEAKEND_KAFKA_VERSION=3.9 "$ROOT/deploy/kafka-local/kafka.sh" install </dev/null >/dev/null
