from tests.conftest import kernel_json, run_ok


def test_veth_between_two_namespaces(lab):
    run_ok(lab, "ip netns add red", "ip netns add blue",
           "ip link add veth-red type veth peer name veth-blue",
           "ip link set veth-red netns red", "ip link set veth-blue netns blue",
           "ip -n red addr add 192.168.15.1/24 dev veth-red", "ip -n blue addr add 192.168.15.2/24 dev veth-blue",
           "ip -n red link set veth-red up", "ip -n blue link set veth-blue up")
    links = {link["ifname"]: link for link in kernel_json("red", "link")}
    assert "UP" in links["veth-red"]["flags"]
    addrs = [(i["local"], i["prefixlen"]) for a in kernel_json("blue", "addr") for i in a["addr_info"] if i["family"] == "inet"]
    assert ("192.168.15.2", 24) in addrs
    assert lab.run("red ping -c1 -W2 192.168.15.2").ok
