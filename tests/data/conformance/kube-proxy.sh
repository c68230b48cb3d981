# Source: Kubernetes kube-proxy (iptables mode): the iptables-restore input of pkg/proxy/iptables/proxier_test.go
#   (kube-proxy.rules, one ClusterIP+NodePort service with two endpoints), loaded the way kube-proxy loads it
#   (`iptables-restore -w 5 -W 100000 --noflush --counters`), and the ensureChain/ensureRule calls of
#   pkg/util/iptables/iptables.go (`iptables -w 5 -W 100000 -N CHAIN -t TABLE`, `-C` then `-I`/`-A`).
iptables -w 5 -W 100000 -N KUBE-SERVICES -t nat
iptables -w 5 -W 100000 -N KUBE-POSTROUTING -t nat
iptables -w 5 -W 100000 -N KUBE-SERVICES -t filter
iptables -w 5 -W 100000 -N KUBE-FORWARD -t filter
iptables -w 5 -W 100000 -C PREROUTING -t nat -m comment --comment "kubernetes service portals" -j KUBE-SERVICES  # both refuse
iptables -w 5 -W 100000 -I PREROUTING -t nat -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
iptables -w 5 -W 100000 -I OUTPUT -t nat -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
iptables -w 5 -W 100000 -I POSTROUTING -t nat -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
iptables -w 5 -W 100000 -I FORWARD -t filter -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
iptables -w 5 -W 100000 -I INPUT -t filter -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
iptables -w 5 -W 100000 -C PREROUTING -t nat -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
iptables-restore -w 5 -W 100000 --noflush --counters < tests/data/conformance/kube-proxy.rules
iptables -t nat -S
iptables -S KUBE-FORWARD
iptables -t nat -L KUBE-SVC-XPGD46QRK7WJZT7O -n
