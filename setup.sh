#!/usr/bin/env bash
# One-step set-up for lab on Debian/Ubuntu: system packages (where missing and possible), a Python
# virtual environment with lab installed, then either the lab (`./setup.sh`) or the tests (`./setup.sh test`).
set -euo pipefail
cd "$(dirname "$0")"
need=()
pairs="ip:iproute2 iptables:iptables nft:nftables conntrack:conntrack ping:iputils-ping unshare:util-linux tcpdump:tcpdump bird:bird2"
# the tests drive lab serve in a real browser, and boot a stock Debian kernel under qemu (tests/vm/run)
[ "${1:-}" = test ] && pairs="$pairs chromium:chromium qemu-system-x86_64:qemu-system-x86 depmod:kmod ipvsadm:ipvsadm"
for pair in $pairs; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pair%%:*}" ] || need+=("${pair##*:}")
done
if [ "${1:-}" = test ] && command -v dpkg >/dev/null 2>&1 && ! dpkg -s busybox-static >/dev/null 2>&1; then
  need+=(busybox-static)    # the VM's initramfs runs it alone
fi
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
# install (editable) only when pyproject.toml changed since the last install: a second ./setup.sh opens at once
stamp=.venv/.lab-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! .venv/bin/python -c 'import lab, pytest' 2>/dev/null; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
  echo "$want" > "$stamp"
fi
# `lab` and `sudo lab` as the README writes them: a link to this checkout's lab on PATH (never over another)
link() {  # link DIR [sudo]
  local dest="$1/lab" cur
  cur=$(readlink "$dest" 2>/dev/null || true)
  if [ -e "$dest" ] && [ "$cur" != "$PWD/.venv/bin/lab" ]; then return 0; fi
  [ "$cur" = "$PWD/.venv/bin/lab" ] && return 0
  ${2:-} mkdir -p "$1" 2>/dev/null && ${2:-} ln -sf "$PWD/.venv/bin/lab" "$dest" 2>/dev/null
}
if [ "$(id -u)" -eq 0 ]; then
  link /usr/local/bin || true
else
  link "$HOME/.local/bin" || true
  if sudo -n true 2>/dev/null; then link /usr/local/bin sudo || true; fi
  case ":$PATH:" in *":$HOME/.local/bin:"*) ;; *) echo "setup: lab is in ~/.local/bin (add it to PATH, or run .venv/bin/lab)";; esac
fi
if [ "${1:-}" = "test" ]; then
  shift
  # one worker per CPU (at most 4), each in a sandbox of its own (tests/xdist_python.py); LAB_TEST_WORKERS=0: serial
  rc=0
  .venv/bin/python -m pytest -q -p no:cacheprovider -n "${LAB_TEST_WORKERS:-auto}" --maxprocesses 4 "$@" || rc=$?
  # the whole suite (no arguments): then the tests marked vm inside a VM on a stock Debian kernel, which has
  # what this machine's kernel may lack (vlan, gre, netem, IPVS...). LAB_VM_TESTS=0 leaves it out.
  if [ $# -eq 0 ] && [ "${LAB_VM_TESTS:-1}" != 0 ]; then
    vrc=0
    tests/vm/run || vrc=$?
    if [ $vrc -eq 3 ]; then echo "setup: the stock-kernel VM cannot run on this machine (said above): its tests were left out"
    elif [ $vrc -ne 0 ]; then rc=$vrc; fi
  fi
  exit $rc
fi
exec .venv/bin/lab "$@"
