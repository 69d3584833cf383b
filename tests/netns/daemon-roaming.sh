#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Roaming, as the kernel's selftest does it, between two flowspreadd: A moves
# its outer address (the old one deleted under a running ping), its listen
# port, and from IPv4 to IPv6; each time the ping goes on and B's `wg show
# endpoints' follows A to the new address and port, and B reaches A there.
# Then reply-to-sender: A sends to B's second address, B answers from it, so
# A's endpoint for B stays on that address (no roaming to B's first one).
#
#  +-----------------------------------+      +-----------------------------------+
#  | fsns$$-a                          |      | fsns$$-b                          |
#  |                                   |      |                                   |
#  |  flowspreadd wgfs$$0              |      |  flowspreadd wgfs$$1              |
#  |    198.51.100.1/24, fd00:1::1/64  |      |    198.51.100.2/24, fd00:1::2/64  |
#  |    UDP 51820, then 51830          |      |    UDP 51821, no endpoint for A   |
#  |    peer B: endpoint configured    |      |                                   |
#  |                                   |      |                                   |
#  |  veth0 192.0.2.1/24  -------------+------+------------ veth0 192.0.2.2/24    |
#  |    then 192.0.2.11/24             |      |                  192.0.2.3/24     |
#  |        2001:db8::1/64             |      |                  2001:db8::2/64   |
#  |    then 2001:db8::11/64           |      |                  2001:db8::3/64   |
#  +-----------------------------------+      +-----------------------------------+

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon

ns_create a; a=$REPLY
ns_create b; b=$REPLY
veth_pair "$a" "$b"
ip netns exec "$a" sysctl -qw net.ipv4.conf.veth0.promote_secondaries=1
ip -n "$a" addr add 192.0.2.1/24 dev veth0
ip -n "$a" addr add 2001:db8::1/64 dev veth0 nodad
ip -n "$b" addr add 192.0.2.2/24 dev veth0
ip -n "$b" addr add 192.0.2.3/24 dev veth0
ip -n "$b" addr add 2001:db8::2/64 dev veth0 nodad
ip -n "$b" addr add 2001:db8::3/64 dev veth0 nodad

two_daemons flowspreadd_start flowspreadd_start
n "$b" wg set "$bif" private-key "$fs_tmp/b.key" listen-port 51821 \
	peer "$a_pub" allowed-ips 198.51.100.1/32,fd00:1::1/128 || fail "wg set $bif failed"
n "$a" wg set "$aif" private-key "$fs_tmp/a.key" listen-port 51820 \
	peer "$b_pub" endpoint 192.0.2.2:51821 allowed-ips 198.51.100.2/32,fd00:1::2/128 ||
	fail "wg set $aif failed"
tunnel_up "$a" "$aif" 198.51.100.1/24 fd00:1::1/64
tunnel_up "$b" "$bif" 198.51.100.2/24 fd00:1::2/64

# endpoint_is NS IFNAME PEER EXPECTED WHO
endpoint_is()
{
	local got

	got=$(wg_show_field "$1" "$2" endpoints "$3")
	[[ $got == "$4" ]] || fail "$5's endpoint is $got, expected $4"
	say "$5's endpoint: $got"
}

# ping_during NS ADDR COMMAND...: 40 pings from NS, 0.1 s apart; COMMAND runs
# after the first second; at most 3 pings may go unanswered.
ping_during()
{
	local ns=$1 addr=$2 pid received
	shift 2

	n "$ns" ping -n -c 40 -i 0.1 -W 1 "$addr" >"$fs_tmp/ping.out" 2>&1 &
	pid=$!
	track "$pid"
	sleep 1
	"$@"
	reap "$pid"
	received=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$fs_tmp/ping.out")
	[[ ${received:-0} -ge 37 ]] ||
		fail "ping $addr while running \`$*': ${received:-0} of 40 answered, expected 37 at least"
	say "ping $addr while running \`$*': $received of 40 answered"
}

# move NS OLD NEW: replaces the address OLD of veth0 by NEW.
move()
{
	local nodad=()

	[[ $3 == *:* ]] && nodad=(nodad)
	ip -n "$1" addr add "$3" dev veth0 "${nodad[@]}" || fail "cannot add $3 in $1"
	ip -n "$1" addr del "$2" dev veth0 || fail "cannot delete $2 in $1"
}

say "=== A initiates to B at 192.0.2.2:51821"
ping_all "$a" 198.51.100.2
endpoint_is "$b" "$bif" "$a_pub" 192.0.2.1:51820 B

say "=== A's outer IPv4 address moves from 192.0.2.1 to 192.0.2.11 under a running ping"
ping_during "$a" 198.51.100.2 move "$a" 192.0.2.1/24 192.0.2.11/24
endpoint_is "$b" "$bif" "$a_pub" 192.0.2.11:51820 B
ping_all "$b" 198.51.100.1

say "=== A's listen port moves from 51820 to 51830"
n "$a" wg set "$aif" listen-port 51830 || fail "wg set $aif listen-port 51830 failed"
ping_all "$a" fd00:1::2
endpoint_is "$b" "$bif" "$a_pub" 192.0.2.11:51830 B
ping_all "$b" fd00:1::1

say "=== A moves to IPv6: endpoint [2001:db8::2]:51821"
n "$a" wg set "$aif" peer "$b_pub" endpoint '[2001:db8::2]:51821'
ping_all "$a" 198.51.100.2
endpoint_is "$b" "$bif" "$a_pub" '[2001:db8::1]:51830' B
ping_all "$b" 198.51.100.1

say "=== A's outer IPv6 address moves from 2001:db8::1 to 2001:db8::11 under a running ping"
ping_during "$a" fd00:1::2 move "$a" 2001:db8::1/64 2001:db8::11/64
endpoint_is "$b" "$bif" "$a_pub" '[2001:db8::11]:51830' B
ping_all "$b" fd00:1::1

say "=== reply to sender: A sends to B's second address; B answers from it"
for endpoint in 192.0.2.3:51821 '[2001:db8::3]:51821' 192.0.2.2:51821 '[2001:db8::2]:51821'; do
	n "$a" wg set "$aif" peer "$b_pub" endpoint "$endpoint"
	ping_all "$a" 198.51.100.2
	ping_all "$b" 198.51.100.1
	endpoint_is "$a" "$aif" "$b_pub" "$endpoint" A
done

daemon_stop "$aif" || fail "flowspreadd $aif exited with status $?"
daemon_stop "$bif" || fail "flowspreadd $bif exited with status $?"
say "PASS: roaming across addresses, ports and families; replies come from the address addressed"
exit 0
