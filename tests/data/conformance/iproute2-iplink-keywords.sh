# Source: iproute2 6.1, ip/iplink.c iplink_parse() (github.com/iproute2/iproute2, tag v6.1.0): the order in
#   which `ip link add` / `ip link set` try their keywords, which ones take abbreviations (matches()) and which
#   only their full spelling (strcmp); the options themselves as ip-link(8) documents them. The lines are the
#   man page's options on veth pairs and a bridge (the devices this kernel has).
ip link add a mtu 9000 type veth # both refuse
ip link add v0 txqueuelen 500 type veth peer name v1
ip link add v2 t 100 type veth peer name v3
ip link add v4 ty veth peer name v5
ip link add name v6 index 77 type veth peer name v7
ip link add v8 numtxqueues 4 numrxqueues 2 type veth peer name v9
ip link add br0 type bridge
ip link set v0 alias uplink group 3 multicast off
ip link set v1 allmulticast on
ip link set v2 txqlen 2000
ip link set v2 qlen 300
ip link set v2 state dormant mode dormant
ip link set v3 trailers off dynamic on
ip link set v3 d off
ip link set v0 carrier off # both refuse
ip link set v0 protodown on # both refuse
ip link set v1 gso_max_size 32000 gso_max_segs 100 gro_max_size 32000
ip link set v4 addrgenmode none
ip link set v0 m br0
ip link set v1 master br0
ip link set v0 n
ip link set v5 br 01:02:03:04:05:06
ip link set v5 arp off promisc on
ip link set v5 alias "a b"
ip link set dev v0 dev v1 up # both refuse
ip link set v0 group default
ip link set v0 state bogus # both refuse
ip link set v0 mode bogus # both refuse
ip link set v0 txqueuelen x # both refuse
ip link set v0 index 5 # both refuse
ip link add v10 ty veth pe name v11 # both refuse
ip link show
ip -d link show v1
ip -d link show v2
ip -d link show v6
ip -j link show v5
ip -j link show v2
ip -j addr show v5
ip addr show v5
ip -o link show v5
ip -br link show v5
ip -d -j link show v5
