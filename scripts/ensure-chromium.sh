#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed at /usr/bin/chromium for the portal's browser test
# (internal/app, driven from Go by chromedp). Installs it quietly when missing, as root or with
# sudo. Does nothing when it is already there.
set -euo pipefail

if [[ -x /usr/bin/chromium ]]; then exit 0; fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi

echo "ensure-chromium: installing Chromium from Debian's packages (for the portal's browser test)" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium; } >"$log" 2>&1; then
	cat "$log" >&2
	echo "ensure-chromium: could not install chromium" >&2
	exit 1
fi
