# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# The body of the daemon-interop-*.sh tests, sourced by them after they set
# $initiator and $responder (flowspreadd or wireguard-go): the initiator
# alone knows the other's endpoint, so it makes every handshake.
#
# For an IPv4 outer path, then an IPv6 one (fresh peers each time, so a
# fresh handshake): the initiator's log shows it sent the initiation and the
# responder's that it received it; ping both ways over IPv4 and IPv6 inner
# addresses; TCP and UDP with iperf3 --bidir (both directions at once) over
# both inner families: each direction moves data, UDP loses less than
# $udp_max_loss %; `wg show' on both ends shows the handshake, the responder
# learnt the initiator's endpoint, and the transfer counters grew both ways.
# Last, a peer added while the interface is up gets no handshake initiation
# before there is traffic for it (as with the kernel and wireguard-go), and
# both daemons exit with status 0 on SIGTERM.
#
#  +-----------------------------------+      +-----------------------------------+
#  | fsns$$-a                          |      | fsns$$-b                          |
#  |                                   |      |                                   |
#  |  $initiator, wgfs$$0              |      |  $responder, wgfs$$1              |
#  |    198.51.100.1/24, fd00:1::1/64  |      |    198.51.100.2/24, fd00:1::2/64  |
#  |    UDP 51820, peer B:             |      |    UDP 51821, peer A:             |
#  |    endpoint 192.0.2.2:51821 or    |      |    no endpoint (learnt)           |
#  |    [2001:db8::2]:51821            |      |                                   |
#  |                                   |      |                                   |
#  |  veth0 192.0.2.1/24  -------------+------+------------ veth0 192.0.2.2/24    |
#  |        2001:db8::1/64             |      |                  2001:db8::2/64   |
#  +-----------------------------------+      +-----------------------------------+

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

: "${initiator:?set by the daemon-interop-*.sh script}" "${responder:?}"
require_daemon iperf3 python3 ss

udp_rate=10M		# each way
udp_max_loss=10		# percent; 0 is usual, a loaded host loses some

ns_create a; a=$REPLY
ns_create b; b=$REPLY
veth_pair "$a" "$b"
ip -n "$a" addr add 192.0.2.1/24 dev veth0
ip -n "$a" addr add 2001:db8::1/64 dev veth0 nodad
ip -n "$b" addr add 192.0.2.2/24 dev veth0
ip -n "$b" addr add 2001:db8::2/64 dev veth0 nodad

keypair a; a_pub=$REPLY
keypair b; b_pub=$REPLY
wg genpsk >"$fs_tmp/psk"

# start KIND NS IFNAME
start()
{
	case $1 in
	flowspreadd) flowspreadd_start "$2" "$3" ;;
	wireguard-go) wggo_start "$2" "$3" ;;
	*) fail "unknown daemon kind $1" ;;
	esac
}

wg_ifname; aif=$REPLY
wg_ifname; bif=$REPLY
start "$initiator" "$a" "$aif"
start "$responder" "$b" "$bif"
n "$a" wg set "$aif" private-key "$fs_tmp/a.key" listen-port 51820 || fail "wg set $aif failed"
n "$b" wg set "$bif" private-key "$fs_tmp/b.key" listen-port 51821 || fail "wg set $bif failed"
tunnel_up "$a" "$aif" 198.51.100.1/24 fd00:1::1/64
tunnel_up "$b" "$bif" 198.51.100.2/24 fd00:1::2/64

# fresh_peers ENDPOINT: each side forgets the other (and so its sessions) and
# learns it again, the responder first; only the initiator gets ENDPOINT.
fresh_peers()
{
	n "$a" wg set "$aif" peer "$b_pub" remove
	n "$b" wg set "$bif" peer "$a_pub" remove
	n "$b" wg set "$bif" peer "$a_pub" preshared-key "$fs_tmp/psk" \
		allowed-ips 198.51.100.1/32,fd00:1::1/128 || fail "wg set $bif peer failed"
	n "$a" wg set "$aif" peer "$b_pub" preshared-key "$fs_tmp/psk" endpoint "$1" \
		allowed-ips 198.51.100.2/32,fd00:1::2/128 || fail "wg set $aif peer failed"
}

# check_roles: since log_mark, A sent an initiation and B received one and
# sent none (case differs: wireguard-go capitalises).
check_roles()
{
	log_since "$aif" | grep -qi 'sending handshake initiation' ||
		fail "$initiator ($aif) logged no handshake initiation sent"
	log_since "$bif" | grep -qi 'received handshake initiation' ||
		fail "$responder ($bif) logged no handshake initiation received"
	! log_since "$bif" | grep -qi 'sending handshake initiation' ||
		fail "$responder ($bif) sent a handshake initiation, but it has no endpoint"
}

# check_show NS IFNAME PEER: prints and checks `wg show', and leaves the
# peer's transfer counters in $rx $tx.
check_show()
{
	local handshake

	n "$1" wg show "$2" | sed 's/^/  /'
	handshake=$(wg_show_field "$1" "$2" latest-handshakes "$3")
	[[ ${handshake:-0} -gt 0 ]] || fail "wg show $2: no handshake with $3"
	read -r rx tx <<<"$(wg_show_field "$1" "$2" transfer "$3")"
	[[ ${rx:-0} -gt 0 && ${tx:-0} -gt 0 ]] ||
		fail "wg show $2: transfer rx=${rx:-?} tx=${tx:-?}, expected both nonzero"
}

# check_iperf NAME SERVER_NS SERVER_ADDR CLIENT_NS [OPTION...]: iperf3
# --bidir for 2 s; both directions carried data, UDP lost little.
check_iperf()
{
	local way bps loss lines=0 name=$1

	shift
	iperf "$name" "$@" -t 2 --bidir >"$fs_tmp/$name.res"
	while read -r way bps loss; do
		say "  $name $way: $((bps / 1000)) kbit/s, ${loss}% lost"
		[[ $bps -gt 0 ]] || fail "iperf3 $name: nothing went $way"
		python3 -c "import sys; sys.exit(not float(sys.argv[1]) < $udp_max_loss)" "$loss" ||
			fail "iperf3 $name $way: ${loss}% of the datagrams lost, expected below $udp_max_loss%"
		lines=$((lines + 1))
	done <"$fs_tmp/$name.res"
	[[ $lines == 2 ]] || fail "iperf3 $name: expected results for both directions, got $lines"
}

# round FAMILY ENDPOINT A_OUTER: the whole scenario over one outer path.
round()
{
	local family=$1 endpoint=$2 a_outer=$3 a_rx a_tx b_rx b_tx learnt

	say "=== $initiator initiates to $responder over $family, endpoint $endpoint"
	fresh_peers "$endpoint"
	log_mark "$aif" "$bif"
	ping_all "$a" 198.51.100.2 5
	check_roles
	ping_all "$a" fd00:1::2 5
	ping_all "$b" 198.51.100.1 5
	ping_all "$b" fd00:1::1 5
	say "pings both ways over inner IPv4 and IPv6: all answered"

	learnt=$(wg_show_field "$b" "$bif" endpoints "$a_pub")
	[[ $learnt == "$a_outer" ]] ||
		fail "$responder learnt the endpoint $learnt, expected $a_outer"
	say "--- $initiator:"
	check_show "$a" "$aif" "$b_pub"; a_rx=$rx a_tx=$tx
	say "--- $responder:"
	check_show "$b" "$bif" "$a_pub"; b_rx=$rx b_tx=$tx

	check_iperf "tcp4-$family" "$b" 198.51.100.2 "$a"
	check_iperf "tcp6-$family" "$a" fd00:1::1 "$b"
	check_iperf "udp4-$family" "$a" 198.51.100.1 "$b" -u -b "$udp_rate" -l 1200
	check_iperf "udp6-$family" "$b" fd00:1::2 "$a" -u -b "$udp_rate" -l 1200

	check_show "$a" "$aif" "$b_pub" >/dev/null
	[[ $rx -gt $a_rx && $tx -gt $a_tx ]] ||
		fail "$initiator's transfer did not grow: rx $a_rx -> $rx, tx $a_tx -> $tx"
	say "$initiator's transfer grew: rx $a_rx -> $rx, tx $a_tx -> $tx"
	check_show "$b" "$bif" "$a_pub" >/dev/null
	[[ $rx -gt $b_rx && $tx -gt $b_tx ]] ||
		fail "$responder's transfer did not grow: rx $b_rx -> $rx, tx $b_tx -> $tx"
	say "$responder's transfer grew: rx $b_rx -> $rx, tx $b_tx -> $tx"
}

round IPv4 192.0.2.2:51821 192.0.2.1:51820
round IPv6 '[2001:db8::2]:51821' '[2001:db8::1]:51820'

say "=== a peer added to an interface that is up sends nothing before it has traffic"
n "$a" wg set "$aif" peer "$b_pub" remove
log_mark "$aif"
n "$a" wg set "$aif" peer "$b_pub" endpoint 192.0.2.2:51821 allowed-ips 198.51.100.2/32
sleep 1
! log_since "$aif" | grep -qi 'sending handshake initiation' ||
	fail "$initiator sent a handshake initiation to a new peer without any traffic for it"

for ifname in "$aif" "$bif"; do
	[[ -v "fs_daemon_pid[$ifname]" ]] || continue
	daemon_stop "$ifname" || fail "the daemon of $ifname exited with status $?"
done
say "PASS: $initiator initiates to $responder; ping, TCP and UDP both ways, inner and outer IPv4 and IPv6"
exit 0
