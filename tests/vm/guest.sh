#!/bin/sh
# PID 1 inside the test VM (tests/vm/run): the host's / read-only under a tmpfs overlay. Mount what a
# system needs, make the stock kernel's modules findable, load those the tests use, run the job from the
# host (/out/job.sh), report its exit status in /out/rc, power off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb
mount -t tmpfs -o mode=755 run /run
# /tmp stays the overlay's (writable, in RAM): the checkout or the kernel cache may live under the host's /tmp
mkdir -p /dev/pts /dev/shm /out
mount -t devpts -o newinstance,ptmxmode=666 devpts /dev/pts
mount -t tmpfs shm /dev/shm
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
mount -t 9p -o trans=virtio,version=9p2000.L labout /out
for w in $(cat /proc/cmdline); do
  case $w in lab.kver=*) KVER=${w#*=};; lab.repo=*) REPO=${w#*=};; lab.modules=*) MODS=${w#*=};; esac
done
cut -d' ' -f1 /proc/uptime > /out/booted
mkdir -p /lib/modules && rm -rf "/lib/modules/$KVER" && ln -s "$MODS" "/lib/modules/$KVER"
# every module a test may need, loaded before any test looks at the machine (some add fallback devices)
for m in 8021q ip_gre ip6_gre gre ipip sit ip_vti ip6_vti ip6_tunnel geneve dummy ipvlan macvlan wireguard vrf bonding vxlan veth bridge br_netfilter \
         ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_sh sch_netem sch_fq_codel sch_sfq sch_prio sch_tbf sch_htb \
         sch_ingress cls_u32 cls_basic act_mirred nf_tables nft_chain_nat nft_ct nft_nat nf_conntrack nft_compat \
         xt_conntrack xt_MASQUERADE xt_nat xt_comment xt_statistic xt_mark iptable_nat iptable_filter tun; do
  modprobe -q "$m" 2>/dev/null || echo "vm: modprobe $m failed" >> /out/log
done
ip link set lo up
hostname labvm 2>/dev/null
cd "$REPO" || echo "vm: no $REPO" >> /out/log
sh /out/job.sh >> /out/log 2>&1 < /dev/null
echo $? > /out/rc
sync
poweroff -f
