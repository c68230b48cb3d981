# Source: Istio istio-iptables TPROXY set-up (tools/istio-iptables/pkg/capture/run.go), which runs
#   ip -f inet6 rule add fwmark 1337 lookup 133 / ip -f inet6 route add local default dev lo table 133
# and the kernel's Documentation/networking/tproxy.rst (ip rule add fwmark 1 lookup 100;
#   ip route add local 0.0.0.0/0 dev lo table 100).
ip link set lo up
ip -f inet rule add fwmark 1337 lookup 133
ip -f inet route add local default dev lo table 133
ip -6 rule add fwmark 1337 lookup 133
ip -6 route add local default dev lo table 133
ip rule add fwmark 1 lookup 100
ip route add local 0.0.0.0/0 dev lo table 100
ip -6 rule show
ip -6 rule show fwmark 1337
ip -6 route show table 133
# where a marked packet goes: the kernel's answer for the rule's mark
ip -6 route get 2001:db8::7 mark 1337
ip route get 192.0.2.9 mark 1337
ip -j route get 192.0.2.9 mark 1337
