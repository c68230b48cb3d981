# Source: iproute2 6.1 man pages' examples and synopses: ip-neighbour(8) ("ip neigh get 10.0.0.3 dev eth0"),
#   ip-netns(8) ("ip netns set NAME NETNSID", "ip netns list-id"), bridge(8) ("bridge fdb add to 00:17:42:8a:b4:05
#   dst 192.19.0.2 dev vxlan0", "via DEV"), and the kernel's Documentation/networking/vxlan.rst.
# Adapted: eth0/eth1 are veths this file makes; addresses from the documentation ranges.
ip link add eth0 type veth peer name eth0-peer
ip link set eth0 up
ip addr add 10.0.0.1/24 dev eth0
ip neigh add 10.0.0.3 lladdr 02:00:00:00:00:03 dev eth0
ip neigh get 10.0.0.3 dev eth0
ip -j neigh get 10.0.0.3 dev eth0
ip -j neigh show
ip neigh show dev eth0
ip -j route show
ip -j addr show dev eth0
ip netns add blue
ip netns add green
ip netns set blue 7
ip netns set green auto
ip netns list-id
ip -j netns list-id
ip link add vxlan0 type vxlan id 42 group 239.1.1.1 dev eth0 dstport 4789
bridge fdb add to 00:17:42:8a:b4:05 dst 192.19.0.2 dev vxlan0
bridge fdb append to 00:00:00:00:00:00 dst 192.19.0.3 via eth0 dev vxlan0
bridge fdb show dev vxlan0
bridge -j fdb show dev vxlan0
ip -j link show
ip -s link show dev eth0
ip -br link show
ip -br addr show
ip addr show
ip link add name va mtu 9000 type veth peer name vb
ip link add vc type veth peer name vd mtu 7000
ip link show dev vb
ip link show dev vd
ip -6 addr add fd00::1/64 dev eth0 nodad
ip -o link
ip -o addr
ip -o -4 addr show
ip -o -d link show dev eth0
# ip-netns(8) "ip netns set NAME NETNSID": an id is given once, and to one namespace only (the kernel's words)
ip netns add nsid-a
ip netns add nsid-b
ip netns set nsid-a 5
ip netns set nsid-b 5 # both refuse: The specified nsid is already used
ip netns set nsid-a 6 # both refuse: Peer netns already has a nsid assigned
ip netns list-id
# ip-route(8) "ip route delete": a delete matches any scope and type unless they are given (iproute2 sends
#   scope nowhere and no type): a direct (link-scope) route, a blackhole, a route in another table
ip link add vdel0 type veth peer name vdel1
ip link set vdel0 up
ip route add 10.98.0.0/16 dev vdel0
ip route del 10.98.0.0/16 dev vdel0
ip route add blackhole 10.66.0.0/16
ip route del 10.66.0.0/16
ip route add 10.97.0.0/16 dev vdel0 table 80
ip route del 10.97.0.0/16 table 80 dev vdel0
ip route add unreachable 10.65.0.0/16
ip route del blackhole 10.65.0.0/16 # both refuse
ip route del unreachable 10.65.0.0/16
ip route show table all
