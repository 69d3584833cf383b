#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Destination spreading (DESIGN section 3): two flowspreadd, each with its
# own /64 and the other's /64 as the peer-level spread_prefix. Each inner
# flow f takes its own outer pair, used mirrored: A sends a_f -> b_f, B
# sends b_f -> a_f. The capture on A's veth tells the inner flows apart by
# their length (flow i carries 100 + 16 i bytes of UDP payload, so its data
# messages are 160 + 16 i bytes long).
#
# 1. B spreads nothing (no local prefix) while A has B's prefix configured:
#    the opt-in condition is never met, since B never sends from inside its
#    prefix, so A keeps sending to B's endpoint (its sources still spread).
# 2. B gets its prefix at run time. The first ping shows the bootstrap: A's
#    first message goes a_p -> B's endpoint, B answers b_p -> a_p (it saw A
#    inside A's prefix), then A sends a_p -> b_p. After that every UDP flow
#    is on its own pair, both ways, mirrored.
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

ns_create a; a=$REPLY
ns_create b; b=$REPLY
veth_pair "$a" "$b"
ip -n "$a" addr add 2001:db8:1::1/64 dev veth0 nodad
ip -n "$b" addr add 2001:db8:1::2/64 dev veth0 nodad
ip -n "$a" -6 route add "$b_net" via 2001:db8:1::2 || fail "cannot route $b_net in $a"
ip -n "$b" -6 route add "$a_net" via 2001:db8:1::1 || fail "cannot route $a_net in $b"

wg genkey >"$fs_tmp/a.key"
wg genkey >"$fs_tmp/b.key"
a_pub=$(wg pubkey <"$fs_tmp/a.key")
b_pub=$(wg pubkey <"$fs_tmp/b.key")

wg_ifname; aif=$REPLY
wg_ifname; bif=$REPLY
flowspreadd_start "$a" "$aif"
flowspreadd_start "$b" "$bif"
n "$a" "$CTL" set "$aif" private-key "$fs_tmp/a.key" listen-port 51820 \
	spread-prefix "$a_net" spread-pairs 65536 \
	peer "$b_pub" endpoint '[2001:db8:1::2]:51821' allowed-ips 198.51.100.2/32 \
	spread-prefix "$b_net" || fail "flowspreadctl set $aif failed"
n "$b" "$CTL" set "$bif" private-key "$fs_tmp/b.key" listen-port 51821 spread-pairs 65536 \
	peer "$a_pub" allowed-ips 198.51.100.1/32 spread-prefix "$a_net" ||
	fail "flowspreadctl set $bif failed"
tunnel_up "$a" "$aif" 198.51.100.1/24
tunnel_up "$b" "$bif" 198.51.100.2/24

# A UDP echo server in B (ip netns exec execs: $! is python itself).
ip netns exec "$b" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.51.100.2", 9000))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(data, peer)
' &
track $!
until_true 5 bash -c "ss -N $b -uanH 'sport = :9000' | grep -q ." || fail "the echo server did not start"

# udp_rounds COUNT: every flow sends COUNT datagrams, one at a time, and
# each must come back.
udp_rounds()
{
	n "$a" python3 - "$flows" "$1" <<-'PY' || fail "$1 round(s) of $flows UDP flows did not all come back"
	import socket, sys
	flows, count = int(sys.argv[1]), int(sys.argv[2])
	lost = 0
	for i in range(flows):
	    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	    s.bind(('198.51.100.1', 9100 + i))
	    s.settimeout(2)
	    for k in range(count):
	        data = bytes([i]) * (100 + 16 * i)
	        s.sendto(data, ('198.51.100.2', 9000))
	        try:
	            if s.recv(2048) != data:
	                lost += 1
	        except socket.timeout:
	            lost += 1
	    s.close()
	if lost:
	    print('%d datagrams did not come back' % lost, file=sys.stderr)
	    sys.exit(1)
	PY
}

# capture_start NAME / capture_stop NAME: data messages (UDP payload 128
# (ping) or 160 to 160 + 16 * 7 bytes) both ways on A's veth; capture_stop
# leaves tcpdump's text in $fs_tmp/NAME.txt.
capture_start()
{
	ip netns exec "$a" tcpdump -n -U --immediate-mode -i veth0 -w "$fs_tmp/$1.pcap" \
		'ip6 and udp and (ip6[4:2] = 136 or (ip6[4:2] >= 168 and ip6[4:2] <= 280))' \
		2>"$fs_tmp/$1.err" &
	capture_pid=$!
	track "$capture_pid"
	until_true 5 grep -q 'listening on' "$fs_tmp/$1.err" || fail "tcpdump did not start: $(cat "$fs_tmp/$1.err")"
}
capture_stop()
{
	sleep 0.3
	kill -INT "$capture_pid"
	reap "$capture_pid"
	tcpdump -n -r "$fs_tmp/$1.pcap" 2>/dev/null >"$fs_tmp/$1.txt"
	chat "$(cat "$fs_tmp/$1.txt")"
}

# check STEP: what the capture of STEP must show (see the top).
check()
{
	python3 - "$1" "$fs_tmp/$1.txt" "$flows" "$((rounds + 1))" "$a_net" "$b_net" <<-'PY'
	import ipaddress, sys
	step, path, flows, per_flow = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
	a_net, b_net = ipaddress.ip_network(sys.argv[5]), ipaddress.ip_network(sys.argv[6])
	b_endpoint = ipaddress.ip_address('2001:db8:1::2')
	def fail(msg):
	    print('FAIL: %s: %s' % (step, msg), file=sys.stderr)
	    sys.exit(1)
	# "TIME IP6 SRC.PORT > DST.PORT: UDP, length N"
	msgs = {'ab': [], 'ba': []}
	for line in open(path):
	    t = line.split()
	    if len(t) < 8 or t[1] != 'IP6' or t[-2] != 'length':
	        continue
	    src, sport = t[2].rsplit('.', 1)
	    dst, dport = t[4].rstrip(':').rsplit('.', 1)
	    length = int(t[-1])
	    flow = 'ping' if length == 128 else (length - 160) // 16
	    way = 'ab' if dport == '51821' else 'ba' if dport == '51820' else None
	    if way is None:
	        fail('unexpected ports: ' + line.strip())
	    msgs[way].append((flow, ipaddress.ip_address(src), ipaddress.ip_address(dst)))
	def per_flow_pairs(way):
	    pairs = {}
	    for flow, src, dst in msgs[way]:
	        if flow != 'ping':
	            pairs.setdefault(flow, []).append((src, dst))
	    if sorted(pairs) != list(range(flows)):
	        fail('%s: data messages of flows %s, expected 0..%d' % (way, sorted(pairs), flows - 1))
	    for flow, seen in pairs.items():
	        if len(seen) != per_flow:
	            fail('%s: flow %d: %d data messages, expected %d' % (way, flow, len(seen), per_flow))
	        if len(set(seen)) != 1:
	            fail('%s: flow %d used more than one outer pair: %s' % (way, flow, sorted(set(map(str, seen)))))
	    return {flow: seen[0] for flow, seen in pairs.items()}
	ab, ba = per_flow_pairs('ab'), per_flow_pairs('ba')
	for flow, (src, dst) in sorted(ab.items()):
	    print('  flow %d: A->B %s -> %s, B->A %s -> %s' % (flow, src, dst, *ba[flow]))
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
	    print('A->B: %d flows from %d addresses of %s, all to %s; B->A: all from %s' %
	          (flows, len(a_srcs), a_net, b_endpoint, b_endpoint))
	    sys.exit(0)
	pairs_ab = set(ab.values())
	if len(pairs_ab) != flows:
	    fail('A->B: %d distinct outer pairs, expected %d' % (len(pairs_ab), flows))
	if not all(dst in b_net for src, dst in pairs_ab):
	    fail('A->B: a destination outside %s' % b_net)
	if not all(src in b_net and dst in a_net for src, dst in ba.values()):
	    fail('B->A: a pair not from %s to %s' % (b_net, a_net))
	mirrored = {(dst, src) for src, dst in ba.values()}
	if mirrored != pairs_ab:
	    fail('the B->A pairs are not the A->B pairs mirrored')
	if any(ba[f] != (dst, src) for f, (src, dst) in ab.items()):
	    fail('a flow is not on the same pair both ways')
	# The bootstrap, on the ping flow: to B's endpoint until B answered
	# from inside its prefix, then to B's end of the pair.
	ping_ab = [(s, d) for f, s, d in msgs['ab'] if f == 'ping']
	ping_ba = [(s, d) for f, s, d in msgs['ba'] if f == 'ping']
	if len(ping_ab) < 2 or len(set(ping_ba)) != 1:
	    fail('ping: %d messages A->B, B->A from %d pairs' % (len(ping_ab), len(set(ping_ba))))
	b_p, a_p = ping_ba[0]
	if ping_ab[0] != (a_p, b_endpoint) or set(ping_ab[1:]) != {(a_p, b_p)} or \
	   a_p not in a_net or b_p not in b_net:
	    fail('ping: no bootstrap a_p -> endpoint, b_p -> a_p, a_p -> b_p: A->B %s, B->A %s' %
	         ([tuple(map(str, p)) for p in ping_ab], (str(b_p), str(a_p))))
	print('ping: A->B %s -> %s first, then -> %s; B->A %s -> %s' % (a_p, b_endpoint, b_p, b_p, a_p))
	print('A->B: %d flows on %d pairs %s -> %s; B->A: the same %d pairs mirrored; %d messages each way' %
	      (flows, len(pairs_ab), a_net, b_net, len(mirrored), len(msgs['ab'])))
	PY
}

started=$SECONDS
say "=== 1. B spreads nothing: A sends to B's endpoint only"
# The first ping waits for the handshake, staged; checked at the end.
capture_start nopeer
ping_all "$a" 198.51.100.2 3
udp_rounds 1
udp_rounds "$rounds"
capture_stop nopeer
check nopeer || fail "step 1: see above"

say "=== 2. B spreads sources from $b_net: pairs, mirrored"
n "$b" "$CTL" set "$bif" spread-prefix "$b_net" || fail "flowspreadctl set $bif spread-prefix failed"
capture_start mirrored
ping_all "$a" 198.51.100.2 3
udp_rounds 1
udp_rounds "$rounds"
capture_stop mirrored
check mirrored || fail "step 2: see above"

say "=== ping both ways and wg show on both ends"
ping_all "$a" 198.51.100.2 3
ping_all "$b" 198.51.100.1 3
for side in "$a $aif $b_pub" "$b $bif $a_pub"; do
	read -r ns ifname pub <<<"$side"
	n "$ns" wg show "$ifname"
	[[ $(wg_show_field "$ns" "$ifname" latest-handshakes "$pub") -gt 0 ]] ||
		fail "wg show $ifname: no handshake with the peer"
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
