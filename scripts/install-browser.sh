#!/bin/sh
# Install Debian's chromium for the browser tests (tests/browser), which drive it with Playwright.
# Idempotent: does nothing when /usr/bin/chromium exists. Never downloads Playwright's own browsers.
# Loud on failure: prints why on stderr and exits non-zero, so CI stops here rather than skipping.
set -eu

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    echo "install-browser: $CHROMIUM is present ($("$CHROMIUM" --version 2>/dev/null || echo 'version unknown'))"
    exit 0
fi

fail() {
    echo "install-browser: FAILED: $*" >&2
    echo "install-browser: the browser tests need Debian's chromium at $CHROMIUM;" \
         "install it with: apt-get update && apt-get install -y chromium (as root)" >&2
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

echo "install-browser: installing chromium with apt-get (a minute or two)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q || fail "apt-get update failed"
$SUDO apt-get install -y -q chromium || fail "apt-get install chromium failed"

[ -x "$CHROMIUM" ] || fail "apt-get finished but $CHROMIUM is still missing"
echo "install-browser: installed $("$CHROMIUM" --version 2>/dev/null || echo chromium)"
