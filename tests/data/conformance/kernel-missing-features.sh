# Source: ip-tunnel(8) and ip-link(8) examples ("ip tunnel add tun0 mode ipip remote 192.0.2.2 local 192.0.2.1",
#   "ip link add link eth0 name eth0.10 type vlan id 10", dummy, gre, geneve, ipvlan, wireguard), tc-netem(8)
#   ("tc qdisc add dev eth0 root netem delay 100ms"), tc-fq_codel(8), bridge(8) ("bridge vlan add dev DEV vid 10").
# This kernel lacks all of them: both tools refuse, lab's error names what is missing, and the rest matches.
ip link add eth0 type veth peer name eth0-peer
ip link set eth0 up
ip tunnel add tun0 mode ipip remote 192.0.2.2 local 192.0.2.1  # both refuse: no ipip tunnel support
ip tunnel add gre1 mode gre remote 192.0.2.2 local 192.0.2.1 ttl 255  # both refuse: no gre tunnel support
ip tunnel show
ip link add link eth0 name eth0.10 type vlan id 10  # both refuse: vlan
ip link add dummy0 type dummy  # both refuse: dummy
ip link add gre2 type gre remote 192.0.2.2 local 192.0.2.1  # both refuse: GRE
ip link add gnv0 type geneve id 10 remote 192.0.2.2  # both refuse: geneve
ip link add ipv0 link eth0 type ipvlan mode l2  # both refuse: ipvlan
ip link add wg0 type wireguard  # both refuse: wireguard
tc qdisc add dev eth0 root netem delay 100ms  # both refuse: netem
tc qdisc add dev eth0 root fq_codel  # both refuse: fq_codel
ip link add br0 type bridge vlan_filtering 1  # both refuse: VLAN filtering
ip link add br0 type bridge
ip link show
ip link add vport type veth peer name vport-peer
ip link set vport master br0
bridge vlan add dev vport vid 10 pvid untagged  # both refuse: VLAN filtering
bridge vlan add dev vport vid 20-22  # both refuse: VLAN filtering
bridge vlan del dev vport vid 1
bridge vlan show
bridge vlan tunnelshow
bridge vlan show dev vport
