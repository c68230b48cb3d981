# Source: wireguard-tools, src/wg-quick/linux.bash, add_default(): the policy rules wg-quick installs
#   ip $proto rule add not fwmark $table table $table
#   ip $proto rule add table main suppress_prefixlength 0
#   ip $proto route add $1 dev $INTERFACE table $table
# Adapted: this kernel has no wireguard, so wg0 is a veth (the routes and rules are what is compared).
ip link add wg0 type veth peer name wg0-peer
ip link set wg0 up
ip -6 addr add fd00:77::2/64 dev wg0 nodad
ip addr add 10.77.0.2/24 dev wg0
ip -4 rule add not fwmark 51820 table 51820
ip -4 rule add table main suppress_prefixlength 0
ip -4 route add 0.0.0.0/0 dev wg0 table 51820
ip -6 rule add not fwmark 51820 table 51820
ip -6 rule add table main suppress_prefixlength 0
ip -6 route add ::/0 dev wg0 table 51820
ip route add default via fd00:77::1
ip rule add from 10.77.0.0/24 to 10.0.0.0/8 tos 0x10 iif wg0 priority 500 table 7
ip rule add blackhole from 10.66.0.0/16 priority 600
ip rule add unreachable to 10.67.0.0/16
ip rule add prohibit fwmark 0x10/0xff
ip rule del from 10.77.0.0/24 to 10.0.0.0/8 tos 0x10 iif wg0 table 7
ip rule del unreachable to 10.67.0.0/16
ip rule show
ip -j rule show
