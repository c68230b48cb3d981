# Source: the kernel's Documentation/networking/vxlan.rst ("ip link add vxlan0 type vxlan id 42 group
#   239.1.1.1 dev eth1 dstport 4789", "bridge fdb add to 00:17:42:8a:b4:05 dst 192.19.0.2 dev vxlan0"),
# ip-link(8)'s bridge and bridge_slave examples, and the Docker/libnetwork overlay driver's vxlan
# (learning off, proxy, l2miss, l3miss; vxlan options in libnetwork/drivers/overlay/ov_utils.go).
# Adapted: eth1 is a veth this file makes.
ip link add eth1 type veth peer name eth1-peer
ip link set eth1 up
ip addr add 192.19.0.1/24 dev eth1
ip link add vxlan0 type vxlan id 42 group 239.1.1.1 dev eth1 dstport 4789
ip link add vxlan1 type vxlan id 43 local 192.19.0.1 dstport 4789 nolearning proxy l2miss l3miss ttl 64 ageing 100
ip link add vxlan2 type vxlan id 44 remote 192.19.0.2 srcport 1000 2000 dstport 0 noudpcsum tos inherit
ip link add vxlan3 type vxlan external dstport 4789
ip link add br0 type bridge forward_delay 500 hello_time 300 max_age 1500 ageing_time 1000 stp_state 1 priority 100
ip link add br1 type bridge nf_call_iptables 1 mcast_snooping 0 group_fwd_mask 8 vlan_default_pvid 5
ip link set eth1-peer master br1
ip link set eth1-peer type bridge_slave learning off hairpin on cost 7 priority 12 flood off mcast_flood off isolated on
ip link set br0 type bridge ageing_time 2000 stp_state 0
ip link set dev br1 type bridge hello_time 250
ip -d link show
ip -d -j link show
ip -d link show dev vxlan1
ip -d -j link show dev eth1-peer
