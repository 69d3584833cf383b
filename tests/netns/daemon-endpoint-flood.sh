#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Memory stays flat while a peer sends from 100,000 source addresses
# (docs/spreading.md): wg-probe completes a handshake with flowspreadd, then
# sends authenticated data messages, each from another address, (i) of a
# prefix that is not the peer's, then (ii) of a prefix configured as the
# peer's spread_prefix on flowspreadd. Every one of them decrypts and
# passes the replay check, so every one is a source the endpoint table
# must consider; each also carries another inner UDP flow. Checked, with
# the values measured: the daemon's resident memory hardly moves, the
# table (endpoint_count) never holds more than its bound, in (ii) the
# sources fold into the prefix entry, the daemon took most of the
# messages, and a plain handshake and ping work afterwards.
#
#  +----------------------------------+      +----------------------------------+
#  | fsns$$-a                         |      | fsns$$-b                         |
#  |  wg-probe (plain UDP)            |      |  flowspreadd wgfs$$0, :51820     |
#  |    inner 198.51.100.1            |      |    198.51.100.2/24               |
#  |  local 2001:db8:77::/64 (i)      |      |    peer: the probe,              |
#  |  local 2001:db8:78::/64 (ii)     |      |      spread_prefix (ii) 78::/64  |
#  |  local 2001:db8:79::/64 (warm-up)|      |  the /64s via 2001:db8:1::1      |
#  |  veth0 2001:db8:1::1/64 ---------+------+--------- veth0 2001:db8:1::2/64 |
#  +----------------------------------+      +----------------------------------+

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon python3

sources=100000
inner_flows=10000
# Paced below what the sanitizer build takes on two busy cores, so most
# messages are received and the table sees most sources: 5 s per phase.
rate=20000
# The bound on growth, in KiB, from measurements: a flood of 100,000
# sources moved VmRSS by 0 to 16 KiB without sanitizers, by 0 to 140 KiB
# with them (the quarantine below). Anything kept per source, even 11
# bytes, is over 1 MiB for 100,000 of them and breaks it.
rss_bound_kib=1024
# In a sanitizer build, freed memory sits in ASan's quarantine (256 MiB by
# default) instead of being reused, so each UAPI get that samples the table
# grows VmRSS by some 23 KiB for good. A 1 MiB quarantine, filled before the
# baseline, still catches a recent use after free and keeps VmRSS honest.
export ASAN_OPTIONS=quarantine_size_mb=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}
# The share of the sent bytes the daemon must count as received.
rx_min_percent=80

two_hosts 2001:db8:1::1/64 2001:db8:1::2/64
for prefix in 2001:db8:77::/64 2001:db8:78::/64 2001:db8:79::/64; do
	# The probe sends from these addresses and receives the daemon's replies on them.
	ip -n "$a" -6 route add local "$prefix" dev lo || fail "cannot add local route $prefix in $a"
	ip -n "$b" -6 route add "$prefix" via 2001:db8:1::1 || fail "cannot route $prefix in $b"
done

keypair a; a_pub=$REPLY
keypair b; b_pub=$REPLY

wg_ifname; bif=$REPLY
flowspreadd_start "$b" "$bif"
pid=${fs_daemon_pid[$bif]}
n "$b" wg set "$bif" private-key "$fs_tmp/b.key" listen-port 51820 \
	peer "$a_pub" allowed-ips 198.51.100.1/32 || fail "wg set $bif failed"
tunnel_up "$b" "$bif" 198.51.100.2/24

probe_args=(initiator --private-key "$fs_tmp/a.key" --peer-public "$b_pub"
	--endpoint '[2001:db8:1::2]:51820' --inner-src 198.51.100.1 --inner-dst 198.51.100.2)

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"; }
rx_bytes() { wg_show_field "$b" "$bif" transfer "$a_pub" | awk '{ print $1 }'; }
peer_get() { printf 'get=1\n\n' | uapi_raw "$bif"; }
endpoint_count() { peer_get | sed -n 's/^endpoint_count=//p'; }
endpoint_count_max() { peer_get | sed -n 's/^endpoint_count_max=//p'; }
endpoint_limit() { peer_get | sed -n 's/^endpoint_limit=//p'; }

# plain_probe NAME: a handshake and 3 echoes from the probe's own address.
plain_probe()
{
	local rc

	n "$a" "$WG_PROBE" "${probe_args[@]}" --count 3 >"$fs_tmp/$1.log" 2>&1
	rc=$?
	[[ $rc == 0 ]] || {
		cat "$fs_tmp/$1.log"
		fail "$1: wg-probe (handshake and 3 echoes) exited with status $rc"
	}
	grep '^OK:' "$fs_tmp/$1.log"
}

# flood PHASE PREFIX PREFIXES: the probe floods from $sources addresses of
# PREFIX. The most entries the table held meanwhile (endpoint_count_max,
# the daemon's own high-water mark since the table was last built) must
# not exceed the bound for PREFIXES peer prefixes: checked exactly, however
# slow the machine. Sets sent_bytes, max_count.
flood()
{
	local phase=$1 prefix=$2 prefixes=$3 count bound rc

	bound=$((1 + limit + 1 + prefixes))
	say "=== ($phase) $sources sources in $prefix, $inner_flows inner flows, bound $bound entries"
	ip netns exec "$a" "$WG_PROBE" "${probe_args[@]}" --timeout 40 \
		--flood-sources "$sources" --source-prefix "$prefix" --source-ports 4 \
		--inner-flows "$inner_flows" --flood-rate "$rate" >"$fs_tmp/probe-$phase.log" 2>&1
	rc=$?
	cat "$fs_tmp/probe-$phase.log"
	[[ $rc == 0 ]] || fail "($phase) wg-probe exited with status $rc"
	sent_bytes=$(sed -n 's/^-> data flood: [0-9]* data messages, \([0-9]*\) bytes.*/\1/p' \
		"$fs_tmp/probe-$phase.log")
	grep -q "^-> data flood: $sources data messages," "$fs_tmp/probe-$phase.log" ||
		fail "($phase) the probe did not send all $sources messages"
	max_count=$(endpoint_count_max)
	count=$(endpoint_count)
	[[ $max_count =~ ^[0-9]+$ && $count =~ ^[0-9]+$ ]] ||
		fail "($phase) no endpoint_count/endpoint_count_max in the UAPI get: \`$count' \`$max_count'"
	((max_count <= bound)) ||
		fail "($phase) endpoint_count reached $max_count during the flood, over the bound $bound"
	((count <= max_count)) ||
		fail "($phase) endpoint_count $count above its high-water mark $max_count"
	say "($phase) endpoint_count: at most $max_count during the flood, $count after; bound $bound"
}

# check_phase PHASE RSS_BEFORE RX_BEFORE
check_phase()
{
	local phase=$1 rss0=$2 rx0=$3 rss1 rx1 got

	rss1=$(rss)
	rx1=$(rx_bytes)
	got=$(((rx1 - rx0) * 100 / sent_bytes))
	say "($phase) VmRSS $rss0 -> $rss1 KiB ($((rss1 - rss0)) KiB, bound $rss_bound_kib);" \
		"received $((rx1 - rx0)) of $sent_bytes bytes sent ($got%)"
	((rss1 - rss0 <= rss_bound_kib)) ||
		fail "($phase) VmRSS grew by $((rss1 - rss0)) KiB over $sources sources, bound $rss_bound_kib KiB"
	((got >= rx_min_percent)) ||
		fail "($phase) the daemon counted $got% of the bytes sent as received, expected at least $rx_min_percent%"
}

say "=== a handshake and pings from the probe's own address"
plain_probe warmup
limit=$(endpoint_limit)
[[ $limit =~ ^[0-9]+$ ]] || fail "no endpoint_limit in the UAPI get"
# Warm the paths the flood takes (many sources, many flows) before the baseline.
ip netns exec "$a" "$WG_PROBE" "${probe_args[@]}" --flood-sources 2000 \
	--source-prefix 2001:db8:79::/64 --inner-flows 2000 >"$fs_tmp/probe-warm.log" 2>&1 ||
	{ cat "$fs_tmp/probe-warm.log"; fail "the warm-up flood failed"; }
for ((i = 0; i < 64; i++)); do
	peer_get >/dev/null	# 1.5 MiB through the quarantine: full
done
sleep 1

rss0=$(rss) rx0=$(rx_bytes)
flood i 2001:db8:77::/64 0
check_phase i "$rss0" "$rx0"
peer_get | grep '^endpoint_state=' | sed 's/^/  /'
# Not a vacuous bound: the flood's sources were learned and filled the slots.
((max_count >= limit)) ||
	fail "(i) endpoint_count reached only $max_count with endpoint_limit $limit: sources not learned?"
! peer_get | grep -q '^endpoint_state=.*,prefix,' || fail "(i) a prefix entry without a prefix configured"

say "=== the probe's 2001:db8:78::/64 becomes its spread_prefix on the daemon"
n "$b" "$top_builddir/flowspreadctl" set "$bif" peer "$a_pub" spread-prefix 2001:db8:78::/64 ||
	fail "flowspreadctl set peer spread-prefix failed"
before=$(endpoint_count)
rss0=$(rss) rx0=$(rx_bytes)
flood ii 2001:db8:78::/64 1
check_phase ii "$rss0" "$rx0"
peer_get | grep '^endpoint_state=' | tee "$fs_tmp/state" | sed 's/^/  /'
grep -q '^endpoint_state=\[2001:db8:78::[0-9a-f:]*\]:[0-9]*,prefix,' "$fs_tmp/state" ||
	fail "(ii) no prefix entry holding an address of 2001:db8:78::/64"
# Sources inside the prefix touch its entry: at most the prefix entry
# itself is new (the current endpoint moved into it, the learned and
# roaming entries stayed as they were).
((max_count <= before + 1)) ||
	fail "(ii) endpoint_count reached $max_count from $before: sources inside the peer's prefix grew the table"

say "=== afterwards, a plain handshake and pings still work"
alive "$pid" || fail "flowspreadd died"
plain_probe after

daemon_stop "$bif" || fail "flowspreadd exited with status $?"
grep 'dropped:' "$fs_tmp/$bif.log" | sed 's/^/  /'
say "PASS: 2 x $sources sources: VmRSS within $rss_bound_kib KiB, endpoint_count within its bound, the daemon still answers"
exit 0
