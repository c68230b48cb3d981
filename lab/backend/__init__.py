"""The only package that talks to the kernel: netlink via pyroute2, iptables-nft/nft, sysctl, the sandbox."""
