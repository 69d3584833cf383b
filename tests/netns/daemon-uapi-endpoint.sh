#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# get=1's endpoint is the peer's own endpoint, not a flow's address: two
# flowspreadd with destination spreading on (each its /64 and the other's
# as the peer's spread_prefix, as daemon-spread-destinations.sh), UDP
# flows both ways; then `wg showconf' and `flowspreadctl showconf' on A
# show B's configured endpoint, and on B A's plain address (where A's
# handshakes come from), never an address of the prefixes.
#
#  +------------------------------------+      +------------------------------------+
#  | fsns$$-a                           |      | fsns$$-b                           |
#  |  flowspreadd wgfs$$0, :51820       |      |  flowspreadd wgfs$$1, :51821       |
#  |    spread_prefix 2001:db8:a0::/64  |      |    spread_prefix 2001:db8:b0::/64  |
#  |    peer B: endpoint [::2]:51821    |      |    peer A: no endpoint             |
#  |  veth0 2001:db8:1::1/64 -----------+------+----------- veth0 2001:db8:1::2/64 |
#  +------------------------------------+      +------------------------------------+

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon python3

CTL=$top_builddir/flowspreadctl
[[ -x $CTL ]] || fail "$CTL is missing: run \`make flowspreadctl' first"
a_net=2001:db8:a0::/64
b_net=2001:db8:b0::/64

two_hosts 2001:db8:1::1/64 2001:db8:1::2/64
ip -n "$a" -6 route add "$b_net" via 2001:db8:1::2 || fail "cannot route $b_net in $a"
ip -n "$b" -6 route add "$a_net" via 2001:db8:1::1 || fail "cannot route $a_net in $b"
two_daemons flowspreadd_start flowspreadd_start
n "$a" "$CTL" set "$aif" private-key "$fs_tmp/a.key" listen-port 51820 spread-prefix "$a_net" \
	peer "$b_pub" endpoint '[2001:db8:1::2]:51821' allowed-ips 198.51.100.2/32 \
	spread-prefix "$b_net" || fail "flowspreadctl set $aif failed"
n "$b" "$CTL" set "$bif" private-key "$fs_tmp/b.key" listen-port 51821 spread-prefix "$b_net" \
	peer "$a_pub" allowed-ips 198.51.100.1/32 spread-prefix "$a_net" ||
	fail "flowspreadctl set $bif failed"
tunnel_up "$a" "$aif" 198.51.100.1/24
tunnel_up "$b" "$bif" 198.51.100.2/24
udp_echo_server "$b" 198.51.100.2 9000

say "=== UDP flows both ways, spread over both prefixes"
ping_all "$a" 198.51.100.2 2
# Until B has heard A from inside A's prefix: then its current endpoint
# is a prefix address, which get=1 must not show.
flows()
{
	ip netns exec "$a" python3 - <<-'EOF'
	import socket
	for port in range(20000, 20008):
	    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	    s.bind(('198.51.100.1', port))
	    s.settimeout(2)
	    s.sendto(b'x' * 100, ('198.51.100.2', 9000))
	    try:
	        s.recvfrom(2048)
	    except socket.timeout:
	        pass
	EOF
}
in_prefix_state()
{
	flows
	printf 'get=1\n\n' | uapi_raw "$1" | grep -q "^endpoint_state=\[$2:[^,]*,prefix,[0-9]"
}
until_true 30 in_prefix_state "$aif" 2001:db8:b0 || fail "A never heard B from inside $b_net"
until_true 30 in_prefix_state "$bif" 2001:db8:a0 || fail "B never heard A from inside $a_net"
printf 'get=1\n\n' | uapi_raw "$aif" | grep '^endpoint'
printf 'get=1\n\n' | uapi_raw "$bif" | grep '^endpoint'

say "=== showconf: the peers' own endpoints"
check_endpoint()
{
	local ns=$1 ifname=$2 want=$3 tool got

	for tool in wg "$CTL"; do
		got=$(ip netns exec "$ns" "$tool" showconf "$ifname" | sed -n 's/^Endpoint = //p')
		say "$(basename "$tool") showconf $ifname: Endpoint = $got"
		[[ $got == "$want" ]] || fail "$(basename "$tool") showconf $ifname: Endpoint = $got, expected $want"
	done
}
check_endpoint "$a" "$aif" '[2001:db8:1::2]:51821'
check_endpoint "$b" "$bif" '[2001:db8:1::1]:51820'
say "PASS: get=1 shows the peers' own endpoints while their flows spread over the prefixes"
exit 0
