# Source: iproute2's own testsuite, https://github.com/iproute2/iproute2 at commit ee2a4a86625688d8c2b468ec15d7ae35a4f5717f:
#   testsuite/tests/bridge/vlan/show.t and testsuite/tests/bridge/vlan/tunnelshow.t (lib/generic.sh helpers).
# Translated: ts_ip/ts_bridge "$0" "desc" ARGS are "ip ARGS"/"bridge ARGS"; rand_dev names are fixed.
# This kernel's bridge has no VLAN filtering: "bridge vlan add ... vid N" is refused, but the same with
#   "tunnel_info id N" is accepted by the real tool and changes nothing (the kernel's stub for vlan tunnels
#   without CONFIG_BRIDGE_VLAN_FILTERING returns success); tunnelshow then lists no port.
# Added: "bridge vlan show" after the bare "bridge vlan", and link shows, so the output is compared.

# bridge/vlan/show.t
ip link add br0 type bridge
ip link add vx0 type vxlan dstport 4789 external
ip link set dev vx0 master br0
bridge vlan del dev vx0 vid 1
ip link add vx1 type vxlan dstport 4790 external
ip link set dev vx1 master br0
bridge vlan
bridge vlan show
bridge vlan tunnelshow
bridge -j vlan show
ip -d link show dev vx0
ip link show master br0
ip link del dev vx1
ip link del dev vx0
ip link del dev br0

# bridge/vlan/tunnelshow.t
ip link add br1 type bridge
ip link add vx2 type vxlan dstport 4789 external
ip link set dev vx2 master br1
ip link set dev vx2 type bridge_slave vlan_tunnel on
ip -d link show dev vx2
bridge vlan add dev vx2 vid 1000  # both refuse: VLAN filtering
bridge vlan add dev vx2 vid 1000 tunnel_info id 1000
bridge vlan add dev vx2 vid 1010-1020  # both refuse: VLAN filtering
bridge vlan add dev vx2 vid 1010-1020 tunnel_info id 1010-1020
bridge vlan add dev vx2 vid 1030  # both refuse: VLAN filtering
bridge vlan add dev vx2 vid 1030 tunnel_info id 65556
bridge vlan tunnelshow dev vx2
bridge -j vlan tunnelshow dev vx2
bridge vlan show dev vx2
bridge -j vlan show dev vx2
ip -j -d link show dev vx2
