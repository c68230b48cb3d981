# Source: LARTC HOWTO, 4.2.2 "Load balancing" (https://lartc.org/howto/lartc.rpdb.multiple-links.html):
#   ip route add default scope global nexthop via $P1 dev $IF1 weight 1 nexthop via $P2 dev $IF2 weight 1
# and ip-route(8)'s nexthop syntax (weight, onlink; an IPv6 multipath route).
# Adapted: the two uplinks are veth pairs this file makes, one left down (the kernel marks its path linkdown).
ip link add if1 type veth peer name up1
ip link add if2 type veth peer name up2
ip link set if1 up
ip link set up1 up
ip link set if2 up
ip addr add 198.51.100.10/24 dev if1
ip addr add 203.0.113.10/24 dev if2
ip route add default scope global nexthop via 198.51.100.1 dev if1 weight 1 nexthop via 203.0.113.1 dev if2 weight 1
ip route add 10.9.0.0/16 metric 5 nexthop via 198.51.100.1 weight 3 nexthop via 192.0.2.1 dev if2 onlink
ip route add 10.10.0.0/16 table 7 nexthop via 198.51.100.2 dev if1 nexthop via 198.51.100.3 dev if1 weight 2
ip -6 route add 2001:db8::/64 nexthop via fe80::1 dev if1 nexthop via fe80::2 dev if2 weight 5
ip route show
ip -j route show
ip route show table 7
ip -6 route show 2001:db8::/64
ip route del 10.9.0.0/16 metric 5
ip route show
ip route add 10.11.0.0/16 nexthop via 198.51.100.1 nexthop dev if2 onlink  # both refuse
ip route add 10.12.0.0/16 via fd00::1  # both refuse
ip -4 rule add from fd00::1 table 5  # both refuse
ip rule add from fd00::1 table 5  # both refuse
ip route show
