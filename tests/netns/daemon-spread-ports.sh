#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Ports mode (docs/spreading.md): over IPv4, with spread_mode ports and
# spread_ports 40000-40063, flowspreadd holds one UDP socket per port of
# the range, reserves the range in net.ipv4.ip_local_reserved_ports (per
# namespace) while it runs, and sends each inner flow from its own port.
# The capture on A's veth tells the inner flows apart by their length
# (flow i carries 100 + 16 i bytes of UDP payload, so its data messages are
# 160 + 16 i bytes long).
#
# (a) Toward a stock wireguard-go: each flow leaves from one port of the
#     range, different flows from different ports (8 flows on 64 ports
#     collide by chance: 5 distinct ports or more are required, fewer
#     happen about once in 10^4 runs when the mapping is right), and
#     wireguard-go, answering the last source it saw, reaches each flow's
#     port; ping and TCP work.
# (b) Refused with a message naming the value, changing nothing: a port of
#     the range held by another process (before and while the daemon holds
#     a range), a range holding the listen port, more than 1024 ports.
# (c) Two flowspreadd, each with the other's range as the peer-level
#     spread_ports: each flow uses one (source port, destination port)
#     pair, and B uses it mirrored. The bootstrap happens before the
#     capture: each end sends from its range only once the other answered
#     through it (docs/spreading.md, section 2.5), so A's first initiation
#     comes from a port of A's range, and B, unproven while we ping, sends
#     one from a port of its own; A answers it there and, having seen B
#     inside B's range, sends to it. From the first ping of the capture
#     on, the ping flow is on one pair both ways.
#
#  +----------------------------------+      +----------------------------------+
#  | fsns$$-a                         |      | fsns$$-b                         |
#  |  flowspreadd, :51820             |      |  (a) wireguard-go, :51821        |
#  |    198.51.100.1/24               |      |  (c) flowspreadd, :51821         |
#  |    spread_ports 40000-40063      |      |      spread_ports 41000-41063    |
#  |                                  |      |    198.51.100.2/24               |
#  |  veth0 192.0.2.1/24 -------------+------+-------------- veth0 192.0.2.2/24 |
#  +----------------------------------+      +----------------------------------+

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon tcpdump python3 iperf3 ss

CTL=$top_builddir/flowspreadctl
[[ -x $CTL ]] || fail "$CTL is missing: run \`make flowspreadctl' first"
flows=8
rounds=5	# datagrams per flow, after one warm-up datagram
a_ports=40000-40063
b_ports=41000-41063
started=$SECONDS

two_hosts 192.0.2.1/24 192.0.2.2/24
keypair a; a_pub=$REPLY
keypair b; b_pub=$REPLY

# reserved NS: the namespace's net.ipv4.ip_local_reserved_ports.
reserved() { ip netns exec "$1" cat /proc/sys/net/ipv4/ip_local_reserved_ports; }
# udp_sockets NS LOW HIGH: the UDP sockets bound to ports LOW..HIGH in NS.
udp_sockets() { ss -N "$1" -uanpH "sport >= :$2 and sport <= :$3"; }
# holder NS PORT: a python3 holding UDP PORT in NS; its PID in $REPLY.
holder()
{
	ip netns exec "$1" python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
time.sleep(120)' "$2" &
	REPLY=$!
	track "$REPLY"
	until_true 5 bash -c "ss -N $1 -uanH 'sport = :$2' | grep -q ." || fail "nothing holds UDP port $2"
}
# get IFNAME: the configuration, without what traffic and time change.
get() { printf 'get=1\n\n' | uapi_raw "$1" | grep -Ev '^(last_handshake|endpoint_state|rx_bytes|tx_bytes|spread_source)'; }
# refused IFNAME WHAT ARGS...: flowspreadctl set IFNAME ARGS fails, the
# daemon's log says WHAT, and the configuration is what it was.
refused()
{
	local ifname=$1 what=$2 before after out
	shift 2

	before=$(get "$ifname")
	log_mark "$ifname"
	out=$(n "$a" "$CTL" set "$ifname" "$@" 2>&1) && fail "accepted: set $ifname $*"
	after=$(get "$ifname")
	[[ $before == "$after" ]] ||
		fail "set $ifname $*: refused but the configuration changed: $(diff <(echo "$before") <(echo "$after"))"
	log_since "$ifname" | grep -qF "$what" ||
		fail "set $ifname $*: the daemon's log does not say \"$what\": $(log_since "$ifname")"
	say "refused: set $* -> $out"
	say "  log: $(log_since "$ifname" | grep -F "$what")"
}

# captured STEP: pings and $flows UDP flows captured on A's veth as STEP
# (data messages both ways: 128 bytes for a ping, 160 to 160 + 16 * 7 for
# the flows), then checked.
captured()
{
	capture_flows "$1" "$a" \
		'ip and udp and udp[8] = 4 and udp[4:2] > 40' \
		198.51.100.1 198.51.100.2 9000 "$flows" "$rounds"
	check "$1"
}

# check STEP: what the capture of STEP must show (see the top).
check()
{
	capture_check "$1" "$flows" "$((rounds + 1))" "$a_ports" "$b_ports" <<-'PY'
	a_lo, a_hi = map(int, args[0].split('-'))
	b_lo, b_hi = map(int, args[1].split('-'))
	msgs = {'ab': [], 'ba': []}
	for flow, src, sport, dst, dport, line in datagrams('IP'):
	    if (src, dst) == ('192.0.2.1', '192.0.2.2'):
	        msgs['ab'].append((flow, sport, dport))
	    elif (src, dst) == ('192.0.2.2', '192.0.2.1'):
	        msgs['ba'].append((flow, sport, dport))
	    else:
	        fail('unexpected addresses: ' + line)
	ab, ba = flow_pairs(msgs)
	if not all(a_lo <= sport <= a_hi for sport, dport in ab.values()):
	    fail('A->B: a source port outside %d-%d' % (a_lo, a_hi))
	sports = {sport for sport, dport in ab.values()}
	if step == 'stock':
	    if len(sports) < 5:
	        fail('A->B: %d flows left from %d ports, expected 5 or more' % (flows, len(sports)))
	    if any(dport != 51821 for sport, dport in ab.values()):
	        fail("A->B: not to wireguard-go's port 51821")
	    # wireguard-go answers the last source it saw: each flow's port.
	    if any(ba[f] != (51821, sport) for f, (sport, dport) in ab.items()):
	        fail("B->A: wireguard-go's answers did not reach each flow's port")
	    print('A->B: %d flows from %d distinct ports of %d-%d to 51821; '
	          'B->A: each answer to its flow\'s port' % (flows, len(sports), a_lo, a_hi))
	    sys.exit(0)
	pairs = set(ab.values())
	if len(pairs) < flows - 1:
	    fail('A->B: %d flows on %d pairs of ports, expected %d or more' % (flows, len(pairs), flows - 1))
	if not all(b_lo <= dport <= b_hi for sport, dport in pairs):
	    fail('A->B: a destination port outside %d-%d' % (b_lo, b_hi))
	mirrored(ab, ba)
	ping_pair(msgs, range(a_lo, a_hi + 1), range(b_lo, b_hi + 1))
	print('A->B: %d flows on %d pairs of ports %d-%d -> %d-%d (%d distinct source ports); '
	      'B->A: the same pairs mirrored; %d + %d messages' %
	      (flows, len(pairs), a_lo, a_hi, b_lo, b_hi, len(sports), len(msgs['ab']), len(msgs['ba'])))
	PY
}

wg_ifname; aif=$REPLY
wg_ifname; bif=$REPLY
flowspreadd_start "$a" "$aif"
wggo_start "$b" "$bif"
n "$a" "$CTL" set "$aif" private-key "$fs_tmp/a.key" listen-port 51820 spread-pairs 65536 \
	peer "$b_pub" endpoint 192.0.2.2:51821 allowed-ips 198.51.100.2/32 ||
	fail "flowspreadctl set $aif failed"
n "$b" wg set "$bif" private-key "$fs_tmp/b.key" listen-port 51821 \
	peer "$a_pub" allowed-ips 198.51.100.1/32 || fail "wg set $bif failed"
tunnel_up "$a" "$aif" 198.51.100.1/24
tunnel_up "$b" "$bif" 198.51.100.2/24
udp_echo_server "$b" 198.51.100.2 9000; echo_pid=$REPLY
no_icmp_errors "$a" "$b"

say "=== (b) a port of the range held by another process: refused"
[[ -z $(reserved "$a") ]] || fail "a fresh namespace reserves ports: $(reserved "$a")"
holder "$a" 40010; held=$REPLY
refused "$aif" "UDP port 40010 of spread_ports=$a_ports" spread-mode ports spread-ports "$a_ports"
[[ -z $(reserved "$a") ]] || fail "a refused range was reserved: $(reserved "$a")"
[[ $(udp_sockets "$a" 40000 40063 | grep -c .) == 1 ]] ||
	fail "a refused range left sockets: $(udp_sockets "$a" 40000 40063)"
kill -TERM "$held"
reap "$held"

say "=== (a) spread_mode ports, spread_ports $a_ports"
n "$a" "$CTL" set "$aif" spread-mode ports spread-ports "$a_ports" || fail "ports mode refused"
say "reserved while running: $(reserved "$a")"
[[ $(reserved "$a") == "$a_ports" ]] || fail "ip_local_reserved_ports is \"$(reserved "$a")\", expected $a_ports"
pid=${fs_daemon_pid[$aif]}
count=$(udp_sockets "$a" 40000 40063 | grep -c "pid=$pid,")
say "sockets of flowspreadd on 40000-40063: $count"
((count == 64)) || fail "$count sockets of flowspreadd on 40000-40063, expected 64: $(udp_sockets "$a" 40000 40063)"

# The first ping waits for the handshake, staged; checked at the end.
captured stock || fail "(a): see above"
ping_all "$a" 198.51.100.2 5
iperf tcp "$b" 198.51.100.2 "$a" -t 3 >"$fs_tmp/tcp.res"
read -r _ bps _ <"$fs_tmp/tcp.res"
((bps > 0)) || fail "TCP moved nothing"
say "TCP through ports mode to wireguard-go: $((bps / 1000000)) Mbit/s"

say "=== (b) refused while $a_ports is in use, nothing changes"
holder "$a" 42010; held=$REPLY
refused "$aif" "UDP port 42010 of spread_ports=42000-42063" spread-ports 42000-42063
kill -TERM "$held"
reap "$held"
refused "$aif" "spread_ports=51800-51863 contains the listen port 51820" spread-ports 51800-51863
refused "$aif" "spread_ports=40000-41024 holds 1025 ports; at most 1024" spread-ports 40000-41024
[[ $(reserved "$a") == "$a_ports" ]] || fail "after refusals, reserved: $(reserved "$a")"
count=$(udp_sockets "$a" 40000 40063 | grep -c "pid=$pid,")
((count == 64)) || fail "after refusals, $count sockets on 40000-40063"
for range in "42000 42063" "40064 41024" "51800 51819" "51821 51863"; do
	# shellcheck disable=SC2086 # two words: LOW HIGH
	[[ -z $(udp_sockets "$a" $range) ]] || fail "a refused range left sockets: $(udp_sockets "$a" $range)"
done
ping_all "$a" 198.51.100.2 3
n "$b" wg show "$bif"

say "=== (d) a range overlapping the current one: the shared ports keep their sockets"
before=$(udp_sockets "$a" 40000 40063 | grep -o 'fd=[0-9]*' | sort)
n "$a" "$CTL" set "$aif" spread-ports 40000-40127 || fail "widening to 40000-40127 refused"
count=$(udp_sockets "$a" 40000 40127 | grep -c "pid=$pid,")
((count == 128)) || fail "after widening, $count sockets on 40000-40127, expected 128"
[[ $(udp_sockets "$a" 40000 40063 | grep -o 'fd=[0-9]*' | sort) == "$before" ]] ||
	fail "the sockets of 40000-40063 were not kept"
[[ $(reserved "$a") == 40000-40127 ]] || fail "after widening, reserved: $(reserved "$a")"
ping_all "$a" 198.51.100.2 3
n "$a" "$CTL" set "$aif" spread-ports 40032-40095 || fail "shifting to 40032-40095 refused"
count=$(udp_sockets "$a" 40000 40127 | grep -c "pid=$pid,")
((count == 64)) || fail "after shifting, $count sockets on 40000-40127, expected 64"
[[ -z $(udp_sockets "$a" 40000 40031) ]] || fail "40000-40031 still held: $(udp_sockets "$a" 40000 40031)"
[[ $(reserved "$a") == 40032-40095 ]] || fail "after shifting, reserved: $(reserved "$a")"
ping_all "$a" 198.51.100.2 3
say "widened 40000-40063 -> 40000-40127 (64 sockets kept), shifted to 40032-40095"

daemon_stop "$aif" || fail "flowspreadd exited with status $?"
[[ -z $(reserved "$a") ]] || fail "still reserved after exit: $(reserved "$a")"
[[ -z $(udp_sockets "$a" 40000 40127) ]] || fail "sockets left after exit: $(udp_sockets "$a" 40000 40127)"
say "reserved after exit: \"$(reserved "$a")\""
daemon_stop "$bif" || fail "wireguard-go exited with status $?"
kill -TERM "$echo_pid"
reap "$echo_pid"

say "=== (c) two flowspreadd in ports mode, each with the other's range"
wg_ifname; aif=$REPLY
wg_ifname; bif=$REPLY
flowspreadd_start "$a" "$aif"
flowspreadd_start "$b" "$bif"
n "$a" "$CTL" set "$aif" private-key "$fs_tmp/a.key" listen-port 51820 spread-pairs 65536 \
	spread-mode ports spread-ports "$a_ports" \
	peer "$b_pub" endpoint 192.0.2.2:51821 allowed-ips 198.51.100.2/32 spread-ports "$b_ports" ||
	fail "flowspreadctl set $aif failed"
n "$b" "$CTL" set "$bif" private-key "$fs_tmp/b.key" listen-port 51821 spread-pairs 65536 \
	spread-mode ports spread-ports "$b_ports" \
	peer "$a_pub" allowed-ips 198.51.100.1/32 spread-ports "$a_ports" ||
	fail "flowspreadctl set $bif failed"
tunnel_up "$a" "$aif" 198.51.100.1/24
tunnel_up "$b" "$bif" 198.51.100.2/24
udp_echo_server "$b" 198.51.100.2 9000; echo_pid=$REPLY
[[ $(reserved "$b") == "$b_ports" ]] || fail "B reserved \"$(reserved "$b")\", expected $b_ports"
# A session (the keepalive that persistent-keepalive sends at once needs
# one; A's initiation proves A's range), then pings until B's range is
# proven too (B's own initiation from its range): the bootstrap, above.
n "$a" wg set "$aif" peer "$b_pub" persistent-keepalive 25 || fail "persistent-keepalive refused"
until_true 10 bash -c "[[ \$(ip netns exec $a wg show $aif latest-handshakes | awk '{print \$2}') != 0 ]]" ||
	fail "no handshake after the keepalive"
spread_proven "$a" 198.51.100.2 "$bif" ports
spread_proven "$b" 198.51.100.1 "$aif" ports
say "A: spread_source=ports,$(spread_source "$aif" ports); B: spread_source=ports,$(spread_source "$bif" ports)"

captured mirrored || fail "(c): see above"
ping_all "$b" 198.51.100.1 3
wg_show_handshake "$a" "$aif" "$b_pub"
wg_show_handshake "$b" "$bif" "$a_pub"
daemon_stop "$aif" || fail "flowspreadd $aif exited with status $?"
daemon_stop "$bif" || fail "flowspreadd $bif exited with status $?"
[[ -z $(reserved "$a")$(reserved "$b") ]] || fail "still reserved after exit: A $(reserved "$a"), B $(reserved "$b")"

# Last, so that it does not hide the rest: the ping that waited for the
# first handshake of (a) is data, and data leaves from its flow's port.
read -r staged next _ < <(awk '$NF == 128 && $3 ~ /^192\.0\.2\.1\./ { s = s " " $3 } END { print s }' "$fs_tmp/stock.txt")
say "the first ping, staged during the handshake, left from $staged, the next one from $next"
[[ $staged == "$next" && ${staged##*.} -ge 40000 && ${staged##*.} -le 40063 ]] ||
	fail "the ping staged during the handshake left from $staged, not from its flow's port of $a_ports ($next) (src/send.c: fs_send_staged sends staged data without fs_peer_spread)"

say "PASS: ports mode: flows spread over $a_ports, reserved only while running, bad ranges refused, mirrored port pairs ($((SECONDS - started)) s)"
exit 0
