# Source: LARTC HOWTO, 4.2 "Routing for multiple uplinks/providers" (split access)
#   https://lartc.org/howto/lartc.rpdb.multiple-links.html
# Adapted: the two uplinks are veth pairs into namespaces the file makes; $P1/$IF1/... filled in;
# the named tables T1/T2 (from /etc/iproute2/rt_tables) are given as numbers 201/202.
ip netns add isp1
ip netns add isp2
ip link add eth1 type veth peer name up1 netns isp1
ip link add eth2 type veth peer name up2 netns isp2
ip link set eth1 up
ip link set eth2 up
ip addr add 198.51.100.10/24 dev eth1
ip addr add 203.0.113.10/24 dev eth2
ip route add 198.51.100.0/24 dev eth1 src 198.51.100.10 table 201
ip route add default via 198.51.100.1 table 201
ip route add 203.0.113.0/24 dev eth2 src 203.0.113.10 table 202
ip route add default via 203.0.113.1 table 202
ip route add default via 198.51.100.1
ip rule add from 198.51.100.10 table 201
ip rule add from 203.0.113.10 table 202
ip rule add from 10.11.0.2 table 101
ip rule show table 201
ip rule show from 203.0.113.10
# which table answered: iproute2 asks with RTM_F_LOOKUP_TABLE and prints it
ip route get 192.0.2.7 from 203.0.113.10
ip route get 192.0.2.7 from 198.51.100.10
ip route get 192.0.2.7
ip -j route get 192.0.2.7 from 203.0.113.10
ip route get 198.51.100.10
ip -j route get 198.51.100.10
ip route get 192.0.2.7 mark 3
ip route get 192.0.2.7 mark 0x20
sysctl -w net.ipv4.ip_forward=1
ip route get 192.0.2.7 from 198.51.100.99 iif eth1
ip -j route get 192.0.2.7 from 198.51.100.99 iif eth1
ip route get 192.0.2.7 from 203.0.113.99 iif eth2
