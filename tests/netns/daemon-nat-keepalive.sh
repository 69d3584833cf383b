#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Persistent keepalive through source NAT, as in the kernel's selftest: A
# sits behind a router that masquerades (nftables) and forgets UDP mappings
# after 2 s. A is given B's endpoint and persistent-keepalive 1, and sends
# nothing else: its keepalives alone make the handshake, B learns A's NATed
# endpoint (the router's outer address), and B reaches A behind the NAT,
# also after more than the mapping's lifetime. Without keepalives (set to 0)
# the mapping expires and B can no longer reach A.
#
#  +------------------------+   +-------------------------------+   +------------------------+
#  | fsns$$-a               |   | fsns$$-r                      |   | fsns$$-b               |
#  |                        |   |   ip_forward=1                |   |                        |
#  |  flowspreadd wgfs$$0   |   |   masquerade 192.0.2.0/25     |   |  flowspreadd wgfs$$1   |
#  |   198.51.100.1/24      |   |   out of veth1                |   |   198.51.100.2/24      |
#  |   UDP 51820            |   |   UDP conntrack timeout 2 s   |   |   UDP 51821            |
#  |   peer B: endpoint     |   |                               |   |   peer A: no endpoint  |
#  |   192.0.2.130:51821,   |   |                               |   |                        |
#  |   keepalive 1          |   |                               |   |                        |
#  |                        |   |                               |   |                        |
#  |  veth0 192.0.2.100/25 -+---+- veth0 192.0.2.1/25           |   |                        |
#  |  default via .1        |   |   veth1 192.0.2.129/25 -------+---+- veth0 192.0.2.130/25 |
#  +------------------------+   +-------------------------------+   +------------------------+

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon nft

ns_create a; a=$REPLY
ns_create r; r=$REPLY
ns_create b; b=$REPLY
veth_pair "$a" "$r"
ip -n "$r" link add veth1 type veth peer name veth0 netns "$b" ||
	fail "cannot create a veth pair between $r and $b"
ip -n "$r" link set veth1 up
ip -n "$b" link set veth0 up
ip -n "$a" addr add 192.0.2.100/25 dev veth0
ip -n "$a" route add default via 192.0.2.1
ip -n "$r" addr add 192.0.2.1/25 dev veth0
ip -n "$r" addr add 192.0.2.129/25 dev veth1
ip -n "$b" addr add 192.0.2.130/25 dev veth0

n "$r" sysctl -qw net.ipv4.ip_forward=1
n "$r" nft -f - <<-'EOF' || skip "nftables cannot masquerade here"
	table ip fsnat {
		chain postrouting {
			type nat hook postrouting priority srcnat;
			ip saddr 192.0.2.0/25 oifname "veth1" masquerade
		}
	}
	EOF
n "$r" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=2 \
	net.netfilter.nf_conntrack_udp_timeout_stream=2 ||
	fail "cannot shorten the UDP conntrack timeouts in $r"

two_daemons flowspreadd_start flowspreadd_start
n "$b" wg set "$bif" private-key "$fs_tmp/b.key" listen-port 51821 \
	peer "$a_pub" allowed-ips 198.51.100.1/32 || fail "wg set $bif failed"
n "$a" wg set "$aif" private-key "$fs_tmp/a.key" listen-port 51820 \
	peer "$b_pub" allowed-ips 198.51.100.2/32 endpoint 192.0.2.130:51821 ||
	fail "wg set $aif failed"
tunnel_up "$b" "$bif" 198.51.100.2/24
tunnel_up "$a" "$aif" 198.51.100.1/24

say "=== A turns persistent-keepalive 1 on, and sends nothing else"
n "$a" wg set "$aif" peer "$b_pub" persistent-keepalive 1 ||
	fail "wg set $aif persistent-keepalive failed"
natted() { [[ $(wg_show_field "$b" "$bif" endpoints "$a_pub") == 192.0.2.129:* ]]; }
until_true 3 natted ||
	fail "B's endpoint for A is $(wg_show_field "$b" "$bif" endpoints "$a_pub") after 3 s, expected the router's 192.0.2.129:PORT"
learnt=$(wg_show_field "$b" "$bif" endpoints "$a_pub")
say "B learnt A's NATed endpoint $learnt from the keepalives"
[[ $(wg_show_field "$a" "$aif" persistent-keepalive "$b_pub") == 1 ]] ||
	fail "A does not show persistent-keepalive 1"

say "=== B reaches A behind the NAT, A never having sent data"
ping_all "$b" 198.51.100.1
sleep 3
ping_all "$b" 198.51.100.1
say "B still reaches A after 3 s, longer than the router keeps a UDP mapping"
read -r rx _ <<<"$(wg_show_field "$b" "$bif" transfer "$a_pub")"
say "B received $rx bytes from A"

say "=== without keepalives, the mapping expires"
n "$a" wg set "$aif" peer "$b_pub" persistent-keepalive 0
sleep 4
ping_none "$b" 198.51.100.1
say "B can no longer reach A: the keepalives were what kept the way open"

daemon_stop "$aif" || fail "flowspreadd $aif exited with status $?"
daemon_stop "$bif" || fail "flowspreadd $bif exited with status $?"
say "PASS: persistent keepalives hold a NAT mapping open for the responder"
exit 0
