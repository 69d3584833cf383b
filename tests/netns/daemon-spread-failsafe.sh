#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Source spreading fails safe (docs/spreading.md, section 2.5): a spread
# prefix (or port range) that the peer cannot answer to must not blackhole
# the tunnel. A spreads its sources; B has no way back to them (no route to
# A's prefix, or an nftables rule dropping what goes to A's port range).
# Three cases, each with fresh daemons:
#
#   addresses-wggo  A spread_prefix 2001:db8:ff::/64, B wireguard-go (IPv6)
#   addresses-fs    the same with B a flowspreadd without spreading
#   ports-wggo      A spread_mode ports, spread_ports 40000-40063, B
#                   wireguard-go (IPv4)
#
# Each case, while pinging from A:
# 1. Broken from the start. A's first initiation probes a spread source;
#    its answer is lost, the retry after REKEY_TIMEOUT goes from the plain
#    source, so the pings (staged meanwhile) lose at most what one probe
#    timeout costs: 27 of 40 at 0.2 s (5.33 s), and no ping data leaves
#    from a spread source (the capture on A's veth). get says
#    failed,...,probe_unanswered; the log has the line once.
# 2. B gets its way back. Within the backoff (bounded by 120 s) a probe
#    proves the path: get says proven, and 8 UDP flows leave from distinct
#    spread sources (addresses: 8 addresses of the prefix; ports: 5 ports
#    or more, as daemon-spread-ports.sh requires).
# 3. Broken again while in use: after KEEPALIVE + REKEY_TIMEOUT without an
#    answer (below the 25 s trust window) A goes back to the plain source.
#    Of 175 pings (35 s) at most 135 are lost (the trust window plus 2 s),
#    24 of the last 25 come back (a probe goes out at most once in 5 s, and
#    the peer answers its source until our next ping comes from the plain
#    one: it may cost the one answer in flight), the last ping data left
#    from the plain
#    source; get says failed with more failures counted (the reason is
#    the latest probe's by then); the log says once why: nothing came
#    back for 15 s, or (on a slow machine, once the proof aged out) a
#    probe got no answer.
#
# Before the fix, step 1 loses every ping (the answers go to the spread
# sources) and the daemon logs nothing.
#
#  +----------------------------------+      +----------------------------------+
#  | fsns$$-a                         |      | fsns$$-b                         |
#  |  flowspreadd, :51820             |      |  wireguard-go or flowspreadd     |
#  |    198.51.100.1/24               |      |    :51821, 198.51.100.2/24       |
#  |  veth0 2001:db8:1::1/64 ---------+------+--------- veth0 2001:db8:1::2/64 |
#  |        192.0.2.1/24              |      |          192.0.2.2/24            |
#  +----------------------------------+      +----------------------------------+

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon tcpdump python3 nft

CTL=$top_builddir/flowspreadctl
[[ -x $CTL ]] || fail "$CTL is missing: run \`make flowspreadctl' first"
prefix=2001:db8:ff::/64
ports=40000-40063
flows=8
started=$SECONDS

two_hosts 2001:db8:1::1/64 2001:db8:1::2/64
ip -n "$a" addr add 192.0.2.1/24 dev veth0 || fail "cannot add 192.0.2.1 in $a"
ip -n "$b" addr add 192.0.2.2/24 dev veth0 || fail "cannot add 192.0.2.2 in $b"
keypair a; a_pub=$REPLY
keypair b; b_pub=$REPLY

# state_is IFNAME KIND STATE [REASON]: the state (and reason) get shows.
state_is()
{
	local state reason

	IFS=, read -r state _ _ reason <<<"$(spread_source "$1" "$2")"
	[[ $state == "$3" && (-z ${4:-} || $reason == "$4") ]]
}
# pings NS ADDR COUNT: COUNT pings 0.2 s apart; how many came back in
# $REPLY, ping's output in $fs_tmp/ping.out.
pings()
{
	n "$1" ping -n -c "$3" -i 0.2 -W 2 "$2" >"$fs_tmp/ping.out" 2>&1
	REPLY=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$fs_tmp/ping.out")
	[[ -n $REPLY ]] || fail "ping printed no summary: $(cat "$fs_tmp/ping.out")"
}
# ping_then_proven KIND: one ping, then whether get says KIND is proven.
ping_then_proven()
{
	n "$a" ping -n -c 1 -W 1 198.51.100.2 >/dev/null 2>&1
	state_is "$aif" "$1" proven
}
# logged TEXT: how many lines of A's log since the mark hold TEXT.
logged() { log_since "$aif" | grep -cF "$1"; }
# wire NAME KIND EXPECT: checks capture NAME (A to B on A's veth): EXPECT
# "plain" (every ping data message from the plain source), "last-plain"
# (the last 10 of them), or "spread" (the $flows UDP flows from distinct
# spread sources).
wire()
{
	python3 - "$fs_tmp/$1.txt" "$2" "$3" "$flows" <<-'PY' || fail "$1: see above"
	import sys
	path, kind, expect, flows = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
	def spread(src, sport):
	    if kind == 'addresses':
	        return src.startswith('2001:db8:ff:')
	    return 40000 <= sport <= 40063
	pings, probes, plain_inits, flow_src = [], 0, 0, {}
	for line in open(path):
	    t = line.split()
	    if len(t) < 8 or t[-2] != 'length':
	        continue
	    src, sport = t[2].rsplit('.', 1)
	    length, sport = int(t[-1]), int(sport)
	    s = spread(src, sport)
	    if length == 148:
	        probes += s
	        plain_inits += not s
	    elif length == 128:
	        pings.append(s)
	    elif 160 <= length <= 160 + 16 * (flows - 1) and (length - 160) % 16 == 0:
	        flow_src.setdefault((length - 160) // 16, set()).add((src, sport) if s else None)
	print('  %s: %d ping data messages (%d from a spread source), initiations: %d from a '
	      'spread source, %d plain' % (path.rsplit('/', 1)[-1], len(pings), sum(pings), probes, plain_inits))
	def fail(msg):
	    print('FAIL: ' + msg, file=sys.stderr)
	    sys.exit(1)
	if expect == 'plain':
	    if not pings or any(pings):
	        fail('ping data left from a spread source, or none was seen')
	    if not probes:
	        fail('no initiation from a spread source: nothing probed the path')
	elif expect == 'last-plain':
	    if len(pings) < 10 or any(pings[-10:]):
	        fail('the last ping data messages did not leave from the plain source')
	else:
	    if sorted(flow_src) != list(range(flows)) or any(None in v or len(v) != 1 for v in flow_src.values()):
	        fail('flows not each from one spread source: %s' % flow_src)
	    distinct = {v for s in flow_src.values() for v in s}
	    need = flows if kind == 'addresses' else 5
	    print('  %d flows from %d distinct spread sources' % (flows, len(distinct)))
	    if len(distinct) < need:
	        fail('%d flows left from %d spread sources, expected %d or more' % (flows, len(distinct), need))
	PY
}

# block KIND / unblock KIND: B's way back to A's spread sources.
block()
{
	if [[ $1 == addresses ]]; then
		ip -n "$b" -6 route del "$prefix" via 2001:db8:1::1 2>/dev/null
	else
		n "$b" nft add table inet fsblock &&
		n "$b" nft add chain inet fsblock out '{ type filter hook output priority 0; }' &&
		n "$b" nft add rule inet fsblock out udp dport "$ports" drop ||
			fail "cannot drop UDP to $ports in $b"
	fi
}
unblock()
{
	if [[ $1 == addresses ]]; then
		ip -n "$b" -6 route add "$prefix" via 2001:db8:1::1 || fail "cannot route $prefix in $b"
	else
		n "$b" nft delete table inet fsblock || fail "cannot delete the nftables table in $b"
	fi
}

run_case()
{
	local name=$1 kind=$2 peer=$3 endpoint what lost tail failures proven_failures
	say "=== $name"
	wg_ifname; aif=$REPLY
	wg_ifname; bif=$REPLY
	flowspreadd_start "$a" "$aif"
	if [[ $peer == wggo ]]; then wggo_start "$b" "$bif"; else flowspreadd_start "$b" "$bif"; fi
	if [[ $kind == addresses ]]; then
		endpoint='[2001:db8:1::2]:51821'
		spread=(spread-prefix "$prefix")
		what="through $prefix"
		capfilter='ip6 and udp and dst port 51821'
	else
		endpoint=192.0.2.2:51821
		spread=(spread-mode ports spread-ports "$ports")
		what="through spread ports $ports"
		capfilter='ip and udp and dst port 51821'
	fi
	block "$kind"
	n "$a" "$CTL" set "$aif" private-key "$fs_tmp/a.key" listen-port 51820 spread-pairs 65536 \
		"${spread[@]}" peer "$b_pub" endpoint "$endpoint" allowed-ips 198.51.100.2/32 ||
		fail "flowspreadctl set $aif failed"
	n "$b" wg set "$bif" private-key "$fs_tmp/b.key" listen-port 51821 \
		peer "$a_pub" allowed-ips 198.51.100.1/32 || fail "wg set $bif failed"
	tunnel_up "$a" "$aif" 198.51.100.1/24
	tunnel_up "$b" "$bif" 198.51.100.2/24
	udp_echo_server "$b" 198.51.100.2 9000; echo_pid=$REPLY

	say "--- 1. B cannot answer $what"
	log_mark "$aif"
	capture_start "$name-1" "$a" "$capfilter"
	pings "$a" 198.51.100.2 40
	capture_stop "$name-1"
	lost=$((40 - REPLY))
	say "  pings: $REPLY of 40 came back ($lost lost, at most 27 allowed)"
	((lost <= 27)) || fail "$name: $lost of 40 pings lost with a broken $kind path"
	wire "$name-1" "$kind" plain
	until_true 10 state_is "$aif" "$kind" failed probe_unanswered ||
		fail "$name: get says spread_source=$kind,$(spread_source "$aif" "$kind"), expected failed,...,probe_unanswered"
	say "  get: spread_source=$kind,$(spread_source "$aif" "$kind")"
	[[ $(logged "got no answer") == 1 && $(logged "a handshake sent $what got no answer in 5 s: sending from") == 1 ]] ||
		fail "$name: the log does not say once that the probe $what got no answer: $(log_since "$aif" | grep -F 'no answer')"
	say "  log: $(log_since "$aif" | grep -F 'got no answer')"
	n "$a" "$CTL" endpoints "$aif" | tee "$fs_tmp/endpoints.out" | sed 's/^/  /'
	grep -qF "source spreading ($kind): off: a handshake sent through them got no answer" "$fs_tmp/endpoints.out" ||
		fail "$name: flowspreadctl endpoints does not show the failure"

	say "--- 2. B can answer $what again"
	unblock "$kind"
	until_true 150 ping_then_proven "$kind" ||
		fail "$name: not proven 150 s after B's way back: $(spread_source "$aif" "$kind")"
	say "  get: spread_source=$kind,$(spread_source "$aif" "$kind")"
	capture_start "$name-2" "$a" "$capfilter"
	udp_flows "$a" 198.51.100.1 198.51.100.2 9000 "$flows" 3
	capture_stop "$name-2"
	wire "$name-2" "$kind" spread
	state_is "$aif" "$kind" proven || fail "$name: no longer proven after the flows: $(spread_source "$aif" "$kind")"
	IFS=, read -r _ _ proven_failures _ <<<"$(spread_source "$aif" "$kind")"

	say "--- 3. B loses its way back while A spreads"
	log_mark "$aif"
	block "$kind"
	capture_start "$name-3" "$a" "$capfilter"
	pings "$a" 198.51.100.2 175
	capture_stop "$name-3"
	lost=$((175 - REPLY))
	tail=$(awk '/icmp_seq=/ { sub("icmp_seq=", "", $5); if ($5 + 0 > 150) n++ } END { print n + 0 }' "$fs_tmp/ping.out")
	say "  pings: $REPLY of 175 came back ($lost lost, at most 135 allowed); $tail of the last 25 (24 required)"
	((lost <= 135 && tail >= 24)) || fail "$name: $lost of 175 pings lost, $tail of the last 25 came back"
	wire "$name-3" "$kind" last-plain
	# The probes since (one each backoff) failed too: the reason is theirs by now.
	until_true 10 state_is "$aif" "$kind" failed ||
		fail "$name: get says spread_source=$kind,$(spread_source "$aif" "$kind"), expected failed"
	IFS=, read -r _ _ failures _ <<<"$(spread_source "$aif" "$kind")"
	say "  get: spread_source=$kind,$(spread_source "$aif" "$kind")"
	((failures > proven_failures)) || fail "$name: $failures failures counted, as many as before the break"
	# Which notices the break first depends on the machine's pace: the
	# 15 s without answers to data, or a probe once the proof aged out
	# (25 s). Either way the break is logged once, saying why.
	[[ $(($(logged "nothing came back $what for") + $(logged "a handshake sent $what got no answer"))) == 1 ]] ||
		fail "$name: the log does not say once why $what is no longer used: $(log_since "$aif" | grep -E 'came back|no answer')"
	say "  log: $(log_since "$aif" | grep -E 'nothing came back|got no answer')"

	kill -TERM "$echo_pid"
	reap "$echo_pid"
	daemon_stop "$aif" || fail "flowspreadd $aif exited with status $?"
	daemon_stop "$bif" || fail "the daemon of $bif exited with status $?"
}

# Each case leaves B without its way back, as the next one starts.
run_case addresses-wggo addresses wggo
run_case addresses-fs addresses fs
run_case ports-wggo ports wggo

say "PASS: a broken way back to the spread sources costs at most one probe timeout, then a trust window; the daemon shows and logs why ($((SECONDS - started)) s)"
exit 0
