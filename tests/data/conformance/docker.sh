# Source: the iptables rules Docker Engine (libnetwork drivers/bridge, iptables.go / setup_ip_tables.go) installs
#   for docker0 and one published port (docker run -p 8080:80), as iptables-save shows them on a Docker host
#   (docs.docker.com/engine/network/packet-filtering-firewalls/). Adapted: docker0 is a bridge this file makes.
ip link add docker0 type bridge
ip addr add 172.17.0.1/16 dev docker0
sysctl -w net.ipv4.ip_forward=1
sysctl -w net.ipv4.conf.docker0.route_localnet=1
sysctl net.ipv4.ip_forward
iptables -t nat -N DOCKER
iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
iptables -t nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
iptables -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
iptables -t nat -A DOCKER -i docker0 -j RETURN
iptables -N DOCKER
iptables -N DOCKER-ISOLATION-STAGE-1
iptables -N DOCKER-ISOLATION-STAGE-2
iptables -N DOCKER-USER
iptables -A FORWARD -j DOCKER-USER
iptables -A FORWARD -j DOCKER-ISOLATION-STAGE-1
iptables -A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
iptables -A FORWARD -o docker0 -j DOCKER
iptables -A FORWARD -i docker0 ! -o docker0 -j ACCEPT
iptables -A FORWARD -i docker0 -o docker0 -j ACCEPT
iptables -A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
iptables -A DOCKER-ISOLATION-STAGE-1 -j RETURN
iptables -A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
iptables -A DOCKER-ISOLATION-STAGE-2 -j RETURN
iptables -A DOCKER-USER -j RETURN
iptables -t nat -A POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE
iptables -t nat -A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
iptables -A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
iptables -P FORWARD DROP
iptables -S
iptables -t nat -S
iptables -L FORWARD -n -v
iptables -t nat -A DOCKER -p tcp --dport 8080 -j DNATT --to-destination 172.17.0.2:80  # both refuse: option of DNAT
iptables -A DOCKER -j DROPP  # both refuse: did you mean "DROP"
