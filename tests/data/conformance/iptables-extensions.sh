# Source: iptables-extensions(8) (iptables 1.8.9) examples and options: recent, hashlimit, string, tcpmss/TCPMSS,
#   time, quota, connlimit, dscp/DSCP, tos/TOS, ecn, policy, sctp, owner --gid-owner, CHECKSUM, CT --zone,
#   CONNMARK masks, NFLOG, TTL; getopt abbreviations (--to-port), --destination-ports, service names.
iptables -A INPUT -m recent --name portscan --rcheck --seconds 86400 -j DROP
iptables -A INPUT -m recent --name portscan --set -j LOG --log-prefix "portscan:"
iptables -A INPUT -p tcp --dport 22 -m hashlimit --hashlimit-upto 5/min --hashlimit-burst 3 --hashlimit-mode srcip --hashlimit-name ssh -j ACCEPT
iptables -A INPUT -p tcp --dport 80 -m string --string "GET /admin" --algo bm -j DROP
iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu
iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -m tcpmss --mss 1400:1536 -j TCPMSS --set-mss 1360
iptables -A INPUT -m time --timestart 09:00 --timestop 18:00 --weekdays Mon,Tue,Wed,Thu,Fri -j ACCEPT
iptables -A OUTPUT -m quota --quota 1000000 -j ACCEPT
iptables -A INPUT -p tcp --syn --dport 80 -m connlimit --connlimit-above 15 --connlimit-mask 24 -j REJECT --reject-with tcp-reset
iptables -A INPUT -m dscp --dscp-class EF -j ACCEPT
iptables -t mangle -A OUTPUT -p tcp --dport 22 -j DSCP --set-dscp-class CS6
iptables -t mangle -A OUTPUT -m tos --tos Minimize-Delay -j TOS --set-tos 0x10
iptables -A INPUT -p tcp -m ecn --ecn-tcp-cwr -j ACCEPT
iptables -A INPUT -m policy --dir in --pol ipsec --proto esp -j ACCEPT
iptables -A INPUT -p sctp --dport 9899 -j ACCEPT
iptables -A OUTPUT -m owner --gid-owner 0 -j ACCEPT
iptables -t mangle -A POSTROUTING -p udp --dport 68 -j CHECKSUM --checksum-fill
iptables -t raw -A PREROUTING -i lo -j CT --zone 5
iptables -t mangle -A PREROUTING -j CONNMARK --restore-mark --nfmask 0xff --ctmask 0xff
iptables -A INPUT -j NFLOG --nflog-group 5 --nflog-prefix dropped
iptables -t mangle -A PREROUTING -i lo -j TTL --ttl-set 64
iptables -t nat -A OUTPUT -p tcp --dport 80 -j REDIRECT --to-port 8080
iptables -A INPUT -p tcp -m multiport --destination-ports 22,80 -j ACCEPT
iptables -A INPUT -p tcp -m multiport --dports ssh,http -j ACCEPT
iptables -A INPUT -m tcp -p tcp --dport 8443 -j ACCEPT
ip6tables -A INPUT -m rt --rt-type 0 -j DROP
ip6tables -A INPUT -m hl --hl-eq 255 -p icmpv6 -j ACCEPT
iptables -S
iptables -t mangle -S
iptables -t nat -S
ip6tables -S
iptables -A INPUT -m nosuchmatch -j ACCEPT  # both refuse
iptables -A INPUT -p tcp --dport 99999 -j ACCEPT  # both refuse: port
