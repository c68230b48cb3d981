#!/usr/bin/env bash
# One-step set-up for lab on Debian/Ubuntu: system packages (where missing and possible), a Python
# virtual environment with lab installed, then either the lab (`./setup.sh`) or the tests (`./setup.sh test`).
set -euo pipefail
cd "$(dirname "$0")"
need=()
for pair in ip:iproute2 iptables:iptables nft:nftables conntrack:conntrack ping:iputils-ping unshare:util-linux tcpdump:tcpdump; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pair%%:*}" ] || need+=("${pair##*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  if command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${need[*]}"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null \
      || echo "setup: could not install ${need[*]}; some features will say what is missing"
  else
    echo "setup: please install ${need[*]} with your package manager"
  fi
fi
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv || { echo "setup: python3 -m venv failed; install python3-venv (apt-get install python3-venv)"; exit 1; }
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
if [ "${1:-}" = "test" ]; then
  shift
  exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
fi
exec .venv/bin/lab "$@"
