#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Destination spreading (docs/spreading.md): two flowspreadd, each with its
# own /64 and the other's /64 as the peer-level spread_prefix. Each inner
# flow f takes its own outer pair, used mirrored: A sends a_f -> b_f, B
# sends b_f -> a_f. The capture on A's veth tells the inner flows apart by
# their length (flow i carries 100 + 16 i bytes of UDP payload, so its data
# messages are 160 + 16 i bytes long).
#
# 1. B has no local prefix while A has B's prefix configured: the opt-in
#    condition is never met, since B never sends from inside its prefix, so
#    A keeps sending to B's endpoint (its sources still spread). B has A's
#    prefix and sees A inside it, so B sends each flow back to the address
#    A sends it from (destination spreading needs no local prefix), not to
#    wherever A's latest packet came from.
# 2. B gets its prefix at run time. B sends from it only once A answered
#    through it (docs/spreading.md, section 2.5): while we ping, B's
#    sources are unproven, so B sends an initiation from an address of its
#    prefix, A answers there, and the new session starts with both ends
#    proven and A having seen B inside B's prefix (B's initiation came from
#    it). That handshake is the bootstrap now: from the first ping of the
#    capture on, A sends a_p -> b_p and B b_p -> a_p, and every UDP flow is
#    on its own pair, both ways, mirrored.
#
#  +------------------------------------+      +------------------------------------+
#  | fsns$$-a                           |      | fsns$$-b                           |
#  |  flowspreadd wgfs$$0, :51820       |      |  flowspreadd wgfs$$1, :51821       |
#  |    198.51.100.1/24                 |      |    198.51.100.2/24                 |
#  |    spread_prefix 2001:db8:a0::/64  |      |    spread_prefix 2001:db8:b0::/64  |
#  |    peer B: spread_prefix b0::/64   |      |      (from step 2 on)              |
#  |  route 2001:db8:b0::/64 via ::2    |      |    peer A: spread_prefix a0::/64   |
#  |                                    |      |  route 2001:db8:a0::/64 via ::1    |
#  |  veth0 2001:db8:1::1/64 -----------+------+----------- veth0 2001:db8:1::2/64 |
#  +------------------------------------+      +------------------------------------+

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon tcpdump python3

CTL=$top_builddir/flowspreadctl
[[ -x $CTL ]] || fail "$CTL is missing: run \`make flowspreadctl' first"
flows=8
rounds=5	# datagrams per flow and step, after one warm-up datagram
a_net=2001:db8:a0::/64
b_net=2001:db8:b0::/64

two_hosts 2001:db8:1::1/64 2001:db8:1::2/64
ip -n "$a" -6 route add "$b_net" via 2001:db8:1::2 || fail "cannot route $b_net in $a"
ip -n "$b" -6 route add "$a_net" via 2001:db8:1::1 || fail "cannot route $a_net in $b"

two_daemons flowspreadd_start flowspreadd_start
n "$a" "$CTL" set "$aif" private-key "$fs_tmp/a.key" listen-port 51820 \
	spread-prefix "$a_net" spread-pairs 65536 \
	peer "$b_pub" endpoint '[2001:db8:1::2]:51821' allowed-ips 198.51.100.2/32 \
	spread-prefix "$b_net" || fail "flowspreadctl set $aif failed"
n "$b" "$CTL" set "$bif" private-key "$fs_tmp/b.key" listen-port 51821 spread-pairs 65536 \
	peer "$a_pub" allowed-ips 198.51.100.1/32 spread-prefix "$a_net" ||
	fail "flowspreadctl set $bif failed"
tunnel_up "$a" "$aif" 198.51.100.1/24
tunnel_up "$b" "$bif" 198.51.100.2/24

udp_echo_server "$b" 198.51.100.2 9000
no_icmp_errors "$a" "$b"

# captured STEP: pings and $flows UDP flows captured on A's veth as STEP
# (data messages both ways: 128 bytes for a ping, 160 to 160 + 16 * 7 for
# the flows), then checked.
captured()
{
	capture_flows "$1" "$a" \
		'ip6 and udp and ip6[48] = 4 and ip6[4:2] > 40' \
		198.51.100.1 198.51.100.2 9000 "$flows" "$rounds"
	check "$1"
}

# check STEP: what the capture of STEP must show (see the top).
check()
{
	capture_check "$1" "$flows" "$((rounds + 1))" "$a_net" "$b_net" <<-'PY'
	import ipaddress
	a_net, b_net = ipaddress.ip_network(args[0]), ipaddress.ip_network(args[1])
	b_endpoint = ipaddress.ip_address('2001:db8:1::2')
	msgs = {'ab': [], 'ba': []}
	for flow, src, sport, dst, dport, line in datagrams('IP6'):
	    way = 'ab' if dport == 51821 else 'ba' if dport == 51820 else None
	    if way is None:
	        fail('unexpected ports: ' + line)
	    msgs[way].append((flow, ipaddress.ip_address(src), ipaddress.ip_address(dst)))
	ab, ba = flow_pairs(msgs)
	a_srcs = {src for src, dst in ab.values()}
	if len(a_srcs) != flows:
	    fail('A->B: %d flows left from %d addresses, expected %d' % (flows, len(a_srcs), flows))
	if not all(src in a_net for src in a_srcs):
	    fail('A->B: a source outside %s' % a_net)
	if step == 'nopeer':
	    if any(dst != b_endpoint for src, dst in ab.values()):
	        fail("A->B: sent to B's prefix although B never sent from inside it")
	    if any(src != b_endpoint for src, dst in ba.values()):
	        fail('B->A: B spread sources without a local prefix')
	    # B has A's prefix and sees A inside it: each flow goes back to the
	    # address A sends it from, however often B's endpoint for A moves.
	    if any(ba[f][1] != ab[f][0] for f in ab):
	        fail('B->A: a flow not sent to the address A sends it from')
	    print('A->B: %d flows from %d addresses of %s, all to %s; B->A: all from %s, each to its own' %
	          (flows, len(a_srcs), a_net, b_endpoint, b_endpoint))
	    sys.exit(0)
	pairs_ab = set(ab.values())
	if len(pairs_ab) != flows:
	    fail('A->B: %d distinct outer pairs, expected %d' % (len(pairs_ab), flows))
	if not all(dst in b_net for src, dst in pairs_ab):
	    fail('A->B: a destination outside %s' % b_net)
	if not all(src in b_net and dst in a_net for src, dst in ba.values()):
	    fail('B->A: a pair not from %s to %s' % (b_net, a_net))
	mirrored(ab, ba)
	# The bootstrap was B's probe: the ping flow is on its pair from the start.
	ping_pair(msgs, a_net, b_net)
	print('A->B: %d flows on %d pairs %s -> %s; B->A: the same %d pairs mirrored; %d messages each way' %
	      (flows, len(pairs_ab), a_net, b_net, len(pairs_ab), len(msgs['ab'])))
	PY
}

started=$SECONDS
say "=== 1. B spreads nothing: A sends to B's endpoint only"
# The first ping waits for the handshake, staged; checked at the end.
captured nopeer || fail "step 1: see above"

say "=== 2. B spreads sources from $b_net: pairs, mirrored"
n "$b" "$CTL" set "$bif" spread-prefix "$b_net" || fail "flowspreadctl set $bif spread-prefix failed"
spread_proven "$a" 198.51.100.2 "$bif" addresses
say "B: spread_source=addresses,$(spread_source "$bif" addresses)"
captured mirrored || fail "step 2: see above"

say "=== ping both ways and wg show on both ends"
ping_all "$a" 198.51.100.2 3
ping_all "$b" 198.51.100.1 3
for side in "$a $aif $b_pub" "$b $bif $a_pub"; do
	read -r ns ifname pub <<<"$side"
	wg_show_handshake "$ns" "$ifname" "$pub"
	read -r rx tx <<<"$(wg_show_field "$ns" "$ifname" transfer "$pub")"
	((rx > 0 && tx > 0)) || fail "wg show $ifname: transfer $rx received, $tx sent"
done

daemon_stop "$aif" || fail "flowspreadd $aif exited with status $?"
daemon_stop "$bif" || fail "flowspreadd $bif exited with status $?"
# Last, so that it does not hide the rest: the ping that waited for the
# first handshake is data, and data leaves from its flow's address.
read -r staged next _ < <(awk '$NF == 128 && $5 ~ /\.51821:$/ { s = s " " $3 } END { print s }' "$fs_tmp/nopeer.txt")
say "the first ping, staged during the handshake, left from $staged, the next one from $next"
[[ $staged == "$next" && $staged == 2001:db8:a0:* ]] ||
	fail "the ping staged during the handshake left from $staged, not from its flow's address of $a_net ($next) (src/send.c: fs_send_staged sends staged data without fs_peer_spread)"

say "PASS: $flows flows on $flows mirrored pairs $a_net <-> $b_net, none while B did not spread ($((SECONDS - started)) s)"
exit 0
