#!/usr/bin/env bash
# The test command (README, "Two commands"; .ci/run calls it): installs the Debian packages
# the tests use when they are missing (as root, or with sudo), the Python packages, then runs
# the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
need=""
command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || need="$need dovecot-imapd"
command -v readpst >/dev/null 2>&1 || need="$need pst-utils"
command -v pdftotext >/dev/null 2>&1 || need="$need poppler-utils"
fc-list 2>/dev/null | grep -qi dejavu || need="$need fonts-dejavu-core"
ldconfig -p 2>/dev/null | grep -q libharfbuzz-subset || need="$need libharfbuzz-subset0"
command -v chromium >/dev/null 2>&1 || need="$need chromium"  # the HTML report, rendered alone
if [ -n "$need" ]; then
  export DEBIAN_FRONTEND=noninteractive
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq $need libpango-1.0-0 libpangoft2-1.0-0 >/dev/null
fi
python3 -m pip install -q -e '.[test]' && python3 -m pip install -q --no-deps pycanon && python3 -m pytest -q
