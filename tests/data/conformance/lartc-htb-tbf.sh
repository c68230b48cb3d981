# Source: LARTC HOWTO 9.5.5 "Hierarchical Token Bucket" and tc-htb(8)/tc-tbf(8) examples
#   (https://lartc.org/howto/lartc.qdisc.classful.html#AEN1071):
#   tc qdisc add dev eth0 root handle 1: htb default 30
#   tc class add dev eth0 parent 1: classid 1:1 htb rate 6mbit burst 15k
#   tc class add dev eth0 parent 1:1 classid 1:10 htb rate 5mbit burst 15k
#   tc class add dev eth0 parent 1:1 classid 1:20 htb rate 3mbit ceil 6mbit burst 15k
#   tc class add dev eth0 parent 1:1 classid 1:30 htb rate 1kbit ceil 6mbit burst 15k
#   tc qdisc add dev eth0 root tbf rate 220kbit latency 50ms burst 1540
# Adapted: eth0/eth1 are veths this file makes; a 1gbit class shows tc's integer rounding of burst.
ip link add eth0 type veth peer name eth1
tc qdisc add dev eth0 root handle 1: htb default 30
tc class add dev eth0 parent 1: classid 1:1 htb rate 6mbit burst 15k
tc class add dev eth0 parent 1:1 classid 1:10 htb rate 5mbit burst 15k
tc class add dev eth0 parent 1:1 classid 1:20 htb rate 3mbit ceil 6mbit burst 15k
tc class add dev eth0 parent 1:1 classid 1:30 htb rate 1kbit ceil 6mbit burst 15k
tc class add dev eth0 parent 1:1 classid 1:40 htb rate 1gbit prio 2
tc class add dev eth0 parent 1:1 classid 1:50 htb rate 777kbit ceil 3333kbit
tc class show dev eth0
tc qdisc show dev eth0
tc qdisc add dev eth1 root tbf rate 220kbit latency 50ms burst 1540
tc qdisc show dev eth1
tc qdisc replace dev eth1 root tbf rate 1gbit burst 32kb latency 400ms
tc qdisc show dev eth1
