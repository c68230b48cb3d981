"""A guardian process forked before the test session enters its sandbox: it stays in the machine's
real namespaces and snapshots the root namespace's network state (links, addresses, routes, rules,
netns list, iptables/nft rules, key sysctls) on request, so the suite can prove it changed nothing."""
from __future__ import annotations

import json
import os
import re
import subprocess

SYSCTLS = ["net/ipv4/ip_forward", "net/ipv4/conf/all/rp_filter", "net/ipv4/conf/all/send_redirects",
           "net/ipv4/conf/default/rp_filter", "net/ipv6/conf/all/forwarding"]


def _run(argv: list[str]) -> str:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return r.stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def root_state() -> dict:
    def js(argv):
        try:
            return json.loads(_run(argv) or "[]")
        except ValueError:
            return []

    links = sorted((link["ifname"], tuple(sorted(link.get("flags", []))), link.get("mtu"), link.get("master"))
                   for link in js(["ip", "-j", "link"]))
    addrs = sorted((a["ifname"], i["local"], i["prefixlen"]) for a in js(["ip", "-j", "addr"])
                   for i in a.get("addr_info", []))
    routes = sorted(json.dumps({k: v for k, v in r.items() if k != "expires"}, sort_keys=True)
                    for r in js(["ip", "-j", "route", "show", "table", "all"]))
    st = {"links": links, "addrs": addrs, "routes": routes,
          "rules": _run(["ip", "rule"]), "netns": _run(["ip", "netns", "list"])}
    if os.geteuid() == 0:
        st["iptables"] = re.sub(r"\[\d+:\d+\]", "", "\n".join(
            line for line in _run(["iptables-save"]).splitlines() if not line.startswith("#")))
        st["nft"] = _run(["nft", "list", "ruleset"])
    for s in SYSCTLS:
        try:
            with open("/proc/sys/" + s) as f:
                st[s] = f.read().strip()
        except OSError:
            pass
    return st


class Guardian:
    def __init__(self, pid: int, req: int, resp: int):
        self.pid, self.req, self.resp = pid, req, resp
        self.before = self.snapshot()

    @classmethod
    def start(cls) -> "Guardian":
        r1, w1 = os.pipe()
        r2, w2 = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(w1)
            os.close(r2)
            try:
                while True:
                    c = os.read(r1, 1)
                    if c != b"s":
                        break
                    data = json.dumps(root_state()).encode()
                    os.write(w2, len(data).to_bytes(8, "big") + data)
            finally:
                os._exit(0)
        os.close(r1)
        os.close(w2)
        return cls(pid, w1, r2)

    def snapshot(self) -> dict:
        os.write(self.req, b"s")
        n = int.from_bytes(self._read(8), "big")
        return json.loads(self._read(n))

    def _read(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = os.read(self.resp, n - len(buf))
            if not chunk:
                raise RuntimeError("root guardian died")
            buf += chunk
        return buf

    def stop(self) -> None:
        try:
            os.write(self.req, b"q")
        except OSError:
            pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass

    def differences(self) -> list[str]:
        after = self.snapshot()
        return [f"{k}: before={self.before.get(k)!r} after={after.get(k)!r}"
                for k in sorted(set(self.before) | set(after)) if self.before.get(k) != after.get(k)]
