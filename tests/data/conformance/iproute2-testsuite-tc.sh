# Source: iproute2's own testsuite, https://github.com/iproute2/iproute2 at commit ee2a4a86625688d8c2b468ec15d7ae35a4f5717f:
#   testsuite/tests/tc/batch.t, tc/flower_mpls.t, tc/mpls.t, tc/vlan.t, tc/pedit.t (lib/generic.sh helpers).
# Translated: ts_ip/ts_tc "$0" "desc" ARGS are "ip ARGS"/"tc ARGS"; the tests' reset_qdisc and do_pedit shell
# functions are expanded in place; rand_dev names are fixed (dev0...). batch.t's "tc -b FILE" runs the file's two
# lines one by one (the test expects the second, a duplicate, to fail).
# This kernel has no dummy links, no matchall/flower classifiers and no gact/pedit/mpls/vlan actions: the lines
# adding those are refused by both tools, and every filter show prints nothing. A veth replaces each test's dummy
# (the tests are about tc, not the link), as said before each block.

# tc/batch.t
ip link add dev dev0 type dummy  # both refuse: dummy
# the same test on a veth (dummy is missing here)
ip link add dev dev0 type veth peer name dev0-peer
ip link set dev0 up
tc qdisc add dev dev0 clsact
tc filt add dev dev0 ingress pref 1000 matchall action pass  # both refuse
tc filt add dev dev0 ingress pref 1000 matchall action pass  # both refuse
tc qdisc show dev dev0
tc filter show dev dev0 ingress
ip link del dev dev0

# tc/flower_mpls.t
ip link add dev dev1 up type dummy  # both refuse: dummy
# the same test on a veth (dummy is missing here)
ip link add dev dev1 up type veth peer name dev1-peer
tc qdisc add dev dev1 ingress
tc filter add dev dev1 ingress protocol mpls_uc flower mpls_label 0 mpls_tc 0 mpls_bos 0 mpls_ttl 0 action drop  # both refuse
tc filter show dev dev1 ingress
tc qdisc del dev dev1 ingress
tc qdisc add dev dev1 ingress
tc filter add dev dev1 ingress protocol mpls_uc flower mpls_label 1048575 mpls_tc 7 mpls_bos 1 mpls_ttl 255 action drop  # both refuse
tc filter show dev dev1 ingress
tc qdisc del dev dev1 ingress
tc qdisc add dev dev1 ingress
tc filter add dev dev1 ingress protocol mpls_uc flower mpls lse depth 2 label 0 tc 0 bos 0 ttl 0 action drop  # both refuse
tc filter show dev dev1 ingress
tc qdisc del dev dev1 ingress
tc qdisc add dev dev1 ingress
tc filter add dev dev1 ingress protocol mpls_uc flower mpls lse depth 2 label 1048575 tc 7 bos 1 ttl 255 action drop  # both refuse
tc filter show dev dev1 ingress
tc qdisc del dev dev1 ingress
tc qdisc add dev dev1 ingress
tc filter add dev dev1 ingress protocol mpls_uc flower mpls lse depth 1 label 0 tc 0 bos 0 ttl 0 lse depth 2 label 1048575 tc 7 bos 1 ttl 255 action drop  # both refuse
tc filter show dev dev1 ingress
tc qdisc show dev dev1

# tc/mpls.t
ip link add dev dev2 up type dummy  # both refuse: dummy
# the same test on a veth (dummy is missing here)
ip link add dev dev2 up type veth peer name dev2-peer
tc qdisc add dev dev2 ingress
tc filter add dev dev2 ingress protocol mpls_uc matchall action mpls pop protocol ip  # both refuse
tc filter show dev dev2 ingress
tc qdisc del dev dev2 ingress
tc qdisc add dev dev2 ingress
tc filter add dev dev2 ingress protocol ip matchall action mpls push protocol mpls_uc label 20 tc 3 bos 1 ttl 64  # both refuse
tc filter show dev dev2 ingress
tc qdisc del dev dev2 ingress
tc qdisc add dev dev2 ingress
tc filter add dev dev2 ingress matchall action mpls mac_push protocol mpls_uc label 20 tc 3 bos 1 ttl 64  # both refuse
tc filter show dev dev2 ingress
tc qdisc del dev dev2 ingress
tc qdisc add dev dev2 ingress
tc filter add dev dev2 ingress protocol mpls_uc matchall action mpls modify label 20 tc 3 ttl 64  # both refuse
tc filter show dev dev2 ingress
tc qdisc del dev dev2 ingress
tc qdisc add dev dev2 ingress
tc filter add dev dev2 ingress protocol mpls_uc matchall action mpls dec_ttl  # both refuse
tc filter show dev dev2 ingress
tc qdisc show dev dev2

# tc/vlan.t
ip link add dev dev3 up type dummy  # both refuse: dummy
# the same test on a veth (dummy is missing here)
ip link add dev dev3 up type veth peer name dev3-peer
tc qdisc add dev dev3 ingress
tc filter add dev dev3 ingress matchall action vlan pop  # both refuse
tc filter show dev dev3 ingress
tc qdisc del dev dev3 ingress
tc qdisc add dev dev3 ingress
tc filter add dev dev3 ingress matchall action vlan push id 5  # both refuse
tc filter show dev dev3 ingress
tc qdisc del dev dev3 ingress
tc qdisc add dev dev3 ingress
tc filter add dev dev3 ingress matchall action vlan push id 5 protocol 802.1ad priority 2  # both refuse
tc filter show dev dev3 ingress
tc qdisc del dev dev3 ingress
tc qdisc add dev dev3 ingress
tc filter add dev dev3 ingress matchall action vlan modify id 5  # both refuse
tc filter show dev dev3 ingress
tc qdisc del dev dev3 ingress
tc qdisc add dev dev3 ingress
tc filter add dev dev3 ingress matchall action vlan modify id 5 protocol 802.1ad priority 2  # both refuse
tc filter show dev dev3 ingress
tc qdisc del dev dev3 ingress
tc qdisc add dev dev3 ingress
tc filter add dev dev3 ingress matchall action vlan pop_eth  # both refuse
tc filter show dev dev3 ingress
tc qdisc del dev dev3 ingress
tc qdisc add dev dev3 ingress
tc filter add dev dev3 ingress matchall action vlan push_eth dst_mac 02:00:00:00:00:02 src_mac 02:00:00:00:00:01  # both refuse
tc filter show dev dev3 ingress
tc qdisc show dev dev3

# tc/pedit.t (u32 is here, the pedit action is not)
ip link add dev dev4 type dummy  # both refuse: dummy
# the same test on a veth (dummy is missing here)
ip link add dev dev4 type veth peer name dev4-peer
ip link set dev4 up
tc qdisc add dev dev4 ingress
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge offset 12 u32 set 0x12345678  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge offset 12 u16 set 0x1234  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge offset 14 u16 set 0x1234  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge offset 12 u8 set 0x23  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge offset 13 u8 set 0x23  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge offset 14 u8 set 0x23  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge offset 15 u8 set 0x23  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge offset 13 u8 invert  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge offset 13 u8 clear  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge offset 13 u8 preserve  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip ihl set 0x04  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip ihl set 0x40  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip ihl preserve  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip ihl invert  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip ihl clear  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip src set 1.2.3.4  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip src preserve  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip src invert  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip src clear  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip dst set 1.2.3.4  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip dst preserve  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip dst invert  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip dst clear  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip tos set 0x1  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip tos set 0x10  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip tos preserve  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip tos invert  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip tos clear  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip protocol set 0x23  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip protocol preserve  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip protocol invert  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip protocol clear  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip nofrag set 0x23  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip nofrag set 0xf4  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip nofrag preserve  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip nofrag invert  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip nofrag clear  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip firstfrag set 0x03  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip firstfrag set 0xfa  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip firstfrag preserve  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip firstfrag invert  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip firstfrag clear  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip ce set 0x23  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip ce set 0x04  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip ce set 0xf3  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip ce preserve  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip ce invert  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip ce clear  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip df set 0x23  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip df set 0x04  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip df set 0xf3  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip df preserve  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip df invert  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip df clear  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip mf set 0x23  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip mf set 0x04  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip mf set 0xf3  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip mf preserve  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip mf invert  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip mf clear  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip dport set 0x1234  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip dport preserve  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip dport invert  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip dport clear  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip sport set 0x1234  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip sport preserve  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip sport invert  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip sport clear  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip icmp_type set 0x23  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip icmp_type preserve  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip icmp_type invert  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip icmp_type clear  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip icmp_code set 0x23  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip icmp_code preserve  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip icmp_code invert  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc del dev dev4 ingress
tc qdisc add dev dev4 ingress
tc filter add dev dev4 parent ffff: u32 match u32 0 0 action pedit munge ip icmp_code clear  # both refuse
tc filter show dev dev4 parent ffff:
tc qdisc show dev dev4
