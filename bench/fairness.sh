#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Fairness: the latency and loss of a sparse flow that shares ONE tunnel
# with bulk TCP, through a bottleneck that queues per outer flow (docs/spreading.md). Same run, side by side: no tunnel at all, wireguard-go,
# flowspread with spreading off, with spread_mode=addresses and with
# spread_mode=ports.
#
#   +--------------------+        +---------------------------+        +--------------------+
#   | fsbench$$-a  (A)   |  veth  | fsbench$$-r  (R, router)  |  veth  | fsbench$$-b  (B)   |
#   | toR                +--------+ toA        toB: BOTTLENECK+--------+ toR                |
#   | 2001:db8:f5:1::1   |        | ::2 / 2001:db8:f5:2::1    |        | 2001:db8:f5:2::2   |
#   | 192.0.2.1/26       |        | .2  / 192.0.2.65/26       |        | 192.0.2.66/26      |
#   | prefix f6a::/64 ---+------->| routed to A and to B      |<-------+--- prefix f6b::/64 |
#   | iperf3, irtt clients        | HTB rate R, leaves by     |        | iperf3, irtt servers
#   | daemons (one pair per case) | jhash of the outer 5-tuple|        | daemons            |
#   +--------------------+        +---------------------------+        +--------------------+
#
# The bottleneck is R's egress toward B: an HTB root with rate R and N leaf
# classes of equal rate (R/N, ceil R, quantum 1514), each with a small
# pfifo. An nftables postrouting rule in R sets skb->priority to
# 1:(1 + jhash(outer saddr, daddr, protocol, sport, dport) mod N), and HTB
# puts a packet whose priority equals a leaf's class id in that leaf
# (docs/spreading.md). The leaves share the link round-robin (DRR, one
# 1514-byte quantum per turn): a stand-in for fq_codel's per-flow queues,
# since this machine's kernel has no fq_codel, cake or netem. Where the
# kernel has them, --bottleneck auto uses cake (flows mode) or fq_codel
# under a one-class HTB instead.
#
# A's egress toward R has gso_max_segs 1, so packets reach R one by one as
# they would from a wire: otherwise a UDP GSO train or a TSO segment would
# sit in a leaf as one 64 KB "packet".
#
# Each case: a few pings (the handshake), an idle probe (the unloaded RTT),
# then STREAMS bulk TCP flows A -> B (iperf3 -P) for TIME seconds with the
# probe running from the 3rd second to 2 s before the end. The probe is
# irtt: one small UDP packet every INTERVAL A -> B and back; the bottleneck
# sits on the way out. The bulk flows and the probe of a tunnel case all go
# through the same tunnel; in the no-tunnel case they go over the outer
# addresses directly. The tc class counters are read before and after each
# loaded run to show which leaves the traffic used, and whether the probe
# had a leaf to itself.
#
# A benchmark, not a test: `make check' does not run it. Root only.
# See docs/benchmarks.md ("Fairness: latency under load").

set -uo pipefail

usage()
{
	cat <<EOF
Usage: $0 [OPTION]...
Latency and loss of a sparse flow beside bulk TCP inside one tunnel, through
a bottleneck that queues per outer flow: no tunnel, wireguard-go, flowspread
with spreading off, addresses and ports.

  --rounds N          rounds over all cases (default 2)
  --time SECONDS      duration of the bulk load (default 20, at least 10)
  --idle SECONDS      duration of the unloaded probe (default 5)
  --streams N         parallel bulk TCP flows (default 3)
  --interval MS       probe interval in milliseconds (default 10)
  --rate MBIT         bottleneck rate in Mbit/s (default 50)
  --leaves N          HTB leaves the flows are hashed onto (default 64)
  --limit PACKETS     pfifo limit of each leaf (default 100)
  --seed HEX          jhash seed of the classifier (default: random)
  --cases LIST        comma-separated, from none,wg,off,addresses,ports
                      (default all five, run in this order each round)
  --ipv4              IPv4 outer for none, wg and off (default IPv6)
  --ports-family 4|6  outer family of the ports case (default 4)
  --bottleneck KIND   auto (default: cake, else fq_codel, else htb), htb,
                      fq_codel, cake
  --flowspreadd PATH  the daemon (default: \$FLOWSPREADD, else ./flowspreadd,
                      else the source tree's); flowspreadctl must be beside it
  --json PATH         where to write the results
                      (default bench/results/fairness-DATE.json)
  --verbose           show every command
  -h, --help          this text

Needs iperf3, irtt (Debian: apt-get install irtt), nft, tc, jq, wireguard-go,
wireguard-tools. Build the daemon without sanitizers first:
  mkdir -p /tmp/build-bench && cd /tmp/build-bench &&
  /path/to/flowspread/configure CFLAGS="-O2 -g" && make -j2 flowspreadd flowspreadctl
EOF
}

ORIG_ARGS="$*"
bench_dir=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "$bench_dir/.." && pwd)

ROUNDS=2
LOAD_TIME=20
IDLE_TIME=5
STREAMS=3
INTERVAL_MS=10
RATE_MBIT=50
LEAVES=64
LIMIT=100
SEED=
CASES=none,wg,off,addresses,ports
FAMILY=6
PORTS_FAMILY=4
BOTTLENECK=auto
JSON=
FLOWSPREADD=${FLOWSPREADD:-}
PROBE_SKIP=3	# seconds of load before the probe starts (slow start)
PROBE_TAIL=2	# seconds of load left when the probe ends

while (($#)); do
	case $1 in
	--rounds) ROUNDS=$2; shift ;;
	--time) LOAD_TIME=$2; shift ;;
	--idle) IDLE_TIME=$2; shift ;;
	--streams) STREAMS=$2; shift ;;
	--interval) INTERVAL_MS=$2; shift ;;
	--rate) RATE_MBIT=$2; shift ;;
	--leaves) LEAVES=$2; shift ;;
	--limit) LIMIT=$2; shift ;;
	--seed) SEED=$2; shift ;;
	--cases) CASES=$2; shift ;;
	--ipv4) FAMILY=4 ;;
	--ports-family) PORTS_FAMILY=$2; shift ;;
	--bottleneck) BOTTLENECK=$2; shift ;;
	--flowspreadd) FLOWSPREADD=$2; shift ;;
	--json) JSON=$2; shift ;;
	--verbose) BENCH_VERBOSE=1 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done

num() { [[ $2 =~ ^[1-9][0-9]*$ ]] || { echo "$1: expected a positive number" >&2; exit 2; }; }
num --rounds "$ROUNDS"
num --time "$LOAD_TIME"
num --idle "$IDLE_TIME"
num --streams "$STREAMS"
num --interval "$INTERVAL_MS"
num --rate "$RATE_MBIT"
num --leaves "$LEAVES"
num --limit "$LIMIT"
((LOAD_TIME >= 10)) || { echo "--time: at least 10 seconds" >&2; exit 2; }
((LEAVES >= 2 && LEAVES <= 1024)) || { echo "--leaves: 2 to 1024" >&2; exit 2; }
[[ $PORTS_FAMILY == 4 || $PORTS_FAMILY == 6 ]] || { echo "--ports-family: 4 or 6" >&2; exit 2; }
[[ $BOTTLENECK =~ ^(auto|htb|fq_codel|cake)$ ]] || { echo "--bottleneck: auto, htb, fq_codel or cake" >&2; exit 2; }
[[ -z $SEED ]] && SEED=$(printf '0x%08x' $(((RANDOM << 16 | RANDOM) & 0xffffffff)))
[[ $SEED =~ ^0x[0-9a-fA-F]{1,8}$ ]] || { echo "--seed: expected 0x and up to 8 hex digits" >&2; exit 2; }
IFS=, read -r -a CASE_LIST <<<"$CASES"
for c in "${CASE_LIST[@]}"; do
	[[ $c =~ ^(none|wg|off|addresses|ports)$ ]] || { echo "--cases: unknown case \`$c'" >&2; exit 2; }
done
if [[ -z $FLOWSPREADD ]]; then
	if [[ -x ./flowspreadd ]]; then FLOWSPREADD=$PWD/flowspreadd; else FLOWSPREADD=$top_srcdir/flowspreadd; fi
fi
FLOWSPREADCTL=${FLOWSPREADCTL:-$(dirname "$FLOWSPREADD")/flowspreadctl}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
[[ -n $JSON ]] || JSON=$top_srcdir/bench/results/fairness-$STAMP.json
export BENCH_VERBOSE

# shellcheck source=bench/lib.sh
. "$bench_dir/lib.sh"

NS_R=fsbench$BENCH_PID-r

bench_init jq awk irtt nft tc timeout
[[ -x $FLOWSPREADCTL ]] || die "$FLOWSPREADCTL is not there: make flowspreadctl (or set FLOWSPREADCTL)"
(umask 022 && mkdir -p "$(dirname "$JSON")") || die "cannot create $(dirname "$JSON")"
RUNS=$bench_tmp/runs.jsonl
: >"$RUNS"

# Outer addresses (see the diagram), by family.
A6=2001:db8:f5:1::1 RA6=2001:db8:f5:1::2 RB6=2001:db8:f5:2::1 B6=2001:db8:f5:2::2
A4=192.0.2.1 RA4=192.0.2.2 RB4=192.0.2.65 B4=192.0.2.66
PREFIX_A=2001:db8:f6a::/64
PREFIX_B=2001:db8:f6b::/64
SPREAD_PORTS=40000-40063
IPERF_PORT=5201
IRTT_PORT=2112

# ---- the bottleneck ----------------------------------------------------------------

# qdisc_available KIND: can this kernel create it? Tried on lo of a scratch
# namespace, which goes away with the test.
qdisc_available()
{
	local ns=fsbench$BENCH_PID-q rc

	ip netns add "$ns" 2>/dev/null || return 1
	bench_namespaces+=("$ns")	# deleted here, or by the trap if interrupted
	ip netns exec "$ns" tc qdisc add dev lo root "$1" >/dev/null 2>&1
	rc=$?
	ip netns del "$ns"
	return "$rc"
}

HAVE_FQ_CODEL=false HAVE_CAKE=false
qdisc_available fq_codel && HAVE_FQ_CODEL=true
qdisc_available cake && HAVE_CAKE=true
if [[ $BOTTLENECK == auto ]]; then
	if $HAVE_CAKE; then BOTTLENECK=cake
	elif $HAVE_FQ_CODEL; then BOTTLENECK=fq_codel
	else BOTTLENECK=htb
	fi
	BOTTLENECK_NOTE="auto: fq_codel $([[ $HAVE_FQ_CODEL == true ]] && echo present || echo absent), cake $([[ $HAVE_CAKE == true ]] && echo present || echo absent); using $BOTTLENECK"
else
	BOTTLENECK_NOTE="forced by --bottleneck $BOTTLENECK (fq_codel $HAVE_FQ_CODEL, cake $HAVE_CAKE)"
fi
[[ $BOTTLENECK == fq_codel && $HAVE_FQ_CODEL != true ]] && die "this kernel has no fq_codel"
[[ $BOTTLENECK == cake && $HAVE_CAKE != true ]] && die "this kernel has no cake"
say "bench: bottleneck: $BOTTLENECK_NOTE"

leaf_id() { printf '1:%x' "$1"; }

# setup_bottleneck: on R's toB. The HTB fallback: leaves 1:1..1:N for the
# hashed traffic, 1:(N+1) the default for what the rule does not hash
# (ARP), all children of 1:8000, which holds the rate.
setup_bottleneck()
{
	local batch=$bench_tmp/tc.batch leaf_kbit i

	case $BOTTLENECK in
	cake)
		n "$NS_R" tc qdisc add dev toB root cake bandwidth "${RATE_MBIT}mbit" besteffort flows ||
			die "cannot set up cake"
		return 0 ;;
	fq_codel)
		n "$NS_R" tc qdisc add dev toB root handle 1: htb default 1 || die "cannot set up HTB"
		n "$NS_R" tc class add dev toB parent 1: classid 1:1 htb rate "${RATE_MBIT}mbit" quantum 1514 ||
			die "cannot set up the HTB class"
		n "$NS_R" tc qdisc add dev toB parent 1:1 fq_codel || die "cannot set up fq_codel"
		return 0 ;;
	esac
	leaf_kbit=$((RATE_MBIT * 1000 / LEAVES))
	((leaf_kbit > 0)) || leaf_kbit=1
	{
		printf 'qdisc add dev toB root handle 1: htb default %x\n' $((LEAVES + 1))
		printf 'class add dev toB parent 1: classid 1:8000 htb rate %smbit ceil %smbit quantum 1514\n' \
			"$RATE_MBIT" "$RATE_MBIT"
		for ((i = 1; i <= LEAVES + 1; i++)); do
			printf 'class add dev toB parent 1:8000 classid %s htb rate %skbit ceil %smbit quantum 1514 prio 0\n' \
				"$(leaf_id "$i")" "$leaf_kbit" "$RATE_MBIT"
			printf 'qdisc add dev toB parent %s pfifo limit %s\n' "$(leaf_id "$i")" "$LIMIT"
		done
	} >"$batch"
	n "$NS_R" tc -batch "$batch" || die "cannot set up the HTB leaves"
	# The classifier. nft checks the dependencies (ip6 saddr implies
	# IPv6; th needs a transport header) and does not hash what has none.
	n "$NS_R" nft -f - <<EOF || die "cannot install the nftables classifier"
table inet fsfair {
	chain post {
		type filter hook postrouting priority 0; policy accept;
		oifname "toB" meta nfproto ipv4 meta priority set jhash ip saddr . ip daddr . meta l4proto . th sport . th dport mod $LEAVES seed $SEED offset 0x10001
		oifname "toB" meta nfproto ipv6 meta priority set jhash ip6 saddr . ip6 daddr . meta l4proto . th sport . th dport mod $LEAVES seed $SEED offset 0x10001
	}
}
EOF
}

# class_counters: "MINOR PACKETS BYTES DROPS" for each HTB leaf of toB
# (this iproute2 has no JSON for tc class).
class_counters()
{
	ip netns exec "$NS_R" tc -s class show dev toB | awk '
		function hex(s,   i, v) {
			v = 0
			for (i = 1; i <= length(s); i++)
				v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
			return v
		}
		# "class htb 1:1a parent 1:8000 leaf 8007: prio 0 ..." (the
		# parent 1:8000 says "root" in $4), then
		# " Sent BYTES bytes PKTS pkt (dropped D, overlimits O ...".
		$1 == "class" && $2 == "htb" { split($3, id, ":"); leaf = ($6 == "leaf") }
		$1 == "Sent" && leaf { d = $7; sub(",", "", d); print hex(id[2]), $4, $2, d }'
}

# ---- the topology --------------------------------------------------------------------

setup_network()
{
	local ns

	bench_netns "$NS_A" "$NS_R" "$NS_B"
	ip -n "$NS_A" link add toR type veth peer name toA netns "$NS_R" || die "veth A-R"
	ip -n "$NS_B" link add toR type veth peer name toB netns "$NS_R" || die "veth R-B"
	n "$NS_R" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 >/dev/null
	ip -n "$NS_A" addr add "$A4/26" dev toR
	ip -n "$NS_A" -6 addr add "$A6/64" dev toR nodad
	ip -n "$NS_R" addr add "$RA4/26" dev toA
	ip -n "$NS_R" -6 addr add "$RA6/64" dev toA nodad
	ip -n "$NS_R" addr add "$RB4/26" dev toB
	ip -n "$NS_R" -6 addr add "$RB6/64" dev toB nodad
	ip -n "$NS_B" addr add "$B4/26" dev toR
	ip -n "$NS_B" -6 addr add "$B6/64" dev toR nodad
	# One packet per skb from A, as from a wire (see the top).
	ip -n "$NS_A" link set toR gso_max_segs 1 || die "cannot set gso_max_segs"
	for ns in "$NS_A" "$NS_B"; do ip -n "$ns" link set toR up; done
	ip -n "$NS_R" link set toA up
	ip -n "$NS_R" link set toB up
	ip -n "$NS_A" route add default via "$RA4"
	ip -n "$NS_A" -6 route add default via "$RA6"
	ip -n "$NS_B" route add default via "$RB4"
	ip -n "$NS_B" -6 route add default via "$RB6"
	ip -n "$NS_R" -6 route add "$PREFIX_A" via "$A6" || die "route to A's prefix"
	ip -n "$NS_R" -6 route add "$PREFIX_B" via "$B6" || die "route to B's prefix"
	setup_bottleneck
}

declare -A T_PID_A T_PID_B T_DST T_OUTER

# setup_tunnel CASE: one daemon pair for CASE (wg, off, addresses, ports),
# keys, endpoints, spreading, inner addresses fd00:f5:K::1 (A) and ::2 (B).
setup_tunnel()
{
	local c=$1 tag kind k port fam ep_a ep_b d=$bench_tmp/$1 if_a if_b
	local -a a_ext=() b_ext=() a_peer=() b_peer=()

	case $c in
	wg) tag=wg kind=wg k=2 port=52001 fam=$FAMILY ;;
	off) tag=fo kind=fs k=1 port=51001 fam=$FAMILY ;;
	addresses) tag=fa kind=fs k=3 port=51011 fam=6 ;;
	ports) tag=fp kind=fs k=4 port=51021 fam=$PORTS_FAMILY ;;
	esac
	if_a=$tag${BENCH_PID}a if_b=$tag${BENCH_PID}b
	if_a=${if_a:0:15} if_b=${if_b:0:15}
	if [[ $fam == 6 ]]; then ep_a="[$A6]" ep_b="[$B6]"; else ep_a=$A4 ep_b=$B4; fi
	T_DST[$c]=fd00:f5:$k::2 T_OUTER[$c]=IPv$fam
	start_daemon "$kind" "$NS_A" "$if_a"; T_PID_A[$c]=$REPLY
	start_daemon "$kind" "$NS_B" "$if_b"; T_PID_B[$c]=$REPLY
	tunnel_keys "$d"
	n "$NS_A" wg set "$if_a" private-key "$d/a.key" listen-port "$port" \
		peer "$(cat "$d/b.pub")" allowed-ips "fd00:f5:$k::2/128" endpoint "$ep_b:$((port + 1))" ||
		die "wg set $if_a failed"
	n "$NS_B" wg set "$if_b" private-key "$d/b.key" listen-port "$((port + 1))" \
		peer "$(cat "$d/a.pub")" allowed-ips "fd00:f5:$k::1/128" endpoint "$ep_a:$port" ||
		die "wg set $if_b failed"
	# Both ends spread, each with the other's prefix (ports): pairs are
	# used mirrored, as bench/throughput.sh --spread does.
	case $c in
	addresses)
		a_ext=(spread-mode addresses spread-prefix "$PREFIX_A") a_peer=(spread-prefix "$PREFIX_B")
		b_ext=(spread-mode addresses spread-prefix "$PREFIX_B") b_peer=(spread-prefix "$PREFIX_A") ;;
	ports)
		a_ext=(spread-mode ports spread-ports "$SPREAD_PORTS") a_peer=(spread-ports "$SPREAD_PORTS")
		b_ext=(spread-mode ports spread-ports "$SPREAD_PORTS") b_peer=(spread-ports "$SPREAD_PORTS") ;;
	esac
	if ((${#a_ext[@]})); then
		n "$NS_A" "$FLOWSPREADCTL" set "$if_a" "${a_ext[@]}" spread-pairs 1024 \
			peer "$(cat "$d/b.pub")" "${a_peer[@]}" || die "flowspreadctl set $if_a failed"
		n "$NS_B" "$FLOWSPREADCTL" set "$if_b" "${b_ext[@]}" spread-pairs 1024 \
			peer "$(cat "$d/a.pub")" "${b_peer[@]}" || die "flowspreadctl set $if_b failed"
	fi
	n "$NS_A" ip link set "$if_a" mtu "$TUNNEL_MTU" up
	n "$NS_B" ip link set "$if_b" mtu "$TUNNEL_MTU" up
	n "$NS_A" ip -6 addr add "fd00:f5:$k::1/64" dev "$if_a" nodad
	n "$NS_B" ip -6 addr add "fd00:f5:$k::2/64" dev "$if_b" nodad
}

# start_servers: iperf3 (all addresses) and irtt (each destination) in B.
start_servers()
{
	local c binds i

	ip netns exec "$NS_B" iperf3 -s -p "$IPERF_PORT" >"$bench_tmp/iperf3-server.log" 2>&1 &
	IPERF_SERVER=$!
	track "$IPERF_SERVER"
	binds="[$B6]:$IRTT_PORT,$B4:$IRTT_PORT"
	for c in "${!T_DST[@]}"; do
		binds+=",[${T_DST[$c]}]:$IRTT_PORT"
	done
	# -i 0: accept any client interval; --timeout: drop idle sessions.
	ip netns exec "$NS_B" irtt server -b "$binds" -i 0 --timeout=10s >"$bench_tmp/irtt-server.log" 2>&1 &
	IRTT_SERVER=$!
	track "$IRTT_SERVER"
	for ((i = 0; i < 50; i++)); do
		n "$NS_B" ss -Hltn "sport = :$IPERF_PORT" 2>/dev/null | grep -q LISTEN &&
			n "$NS_B" ss -Hlun "sport = :$IRTT_PORT" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	cat "$bench_tmp/irtt-server.log" >&2
	die "the iperf3 or irtt server did not start"
}

restart_bulk_server()
{
	stop_pid "$IPERF_SERVER"
	ip netns exec "$NS_B" iperf3 -s -p "$IPERF_PORT" >>"$bench_tmp/iperf3-server.log" 2>&1 &
	IPERF_SERVER=$!
	track "$IPERF_SERVER"
	sleep 0.5
}

# ---- one measurement ---------------------------------------------------------------

# dest CASE: the address the bulk flows and the probe go to.
dest()
{
	if [[ $1 == none ]]; then
		[[ $FAMILY == 6 ]] && echo "$B6" || echo "$B4"
	else
		echo "${T_DST[$1]}"
	fi
}

bracket() { [[ $1 == *:* ]] && echo "[$1]" || echo "$1"; }

# irtt_run OUT SECONDS DEST: the probe, in the foreground of the caller.
irtt_run()
{
	local out=$1 secs=$2 dst=$3 pid rc

	timeout $((secs + 30)) ip netns exec "$NS_A" irtt client -i "${INTERVAL_MS}ms" -d "${secs}s" \
		-Q -o "$out" "$(bracket "$dst"):$IRTT_PORT" 2>"$out.err" &
	pid=$!
	track "$pid"
	wait "$pid"
	rc=$?
	untrack "$pid"
	return "$rc"
}

# cpu_sample: "BUSY,IDLE" jiffies of all CPUs so far.
cpu_sample() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 "," $5 + $6 }' /proc/stat; }

# run_case ROUND CASE: appends one JSON line to $RUNS.
run_case()
{
	local round=$1 c=$2 dst base=$bench_tmp/r$1-$2 bulk rc_bulk=0 rc_probe i
	local c0 c1 busy idle

	dst=$(dest "$c")
	if [[ $c != none ]]; then
		{ alive "${T_PID_A[$c]}" && alive "${T_PID_B[$c]}"; } ||
			die "a daemon of case $c died (logs in $bench_tmp)"
	fi
	# The handshake (or a fresh one after a rekey), then the idle probe,
	# which also lets destination spreading find the peer in its prefix.
	for ((i = 0; i < 10; i++)); do
		n "$NS_A" ping -c 1 -W 1 -q "$dst" >/dev/null 2>&1 && break
	done
	((i < 10)) || die "no ping to $dst in case $c (logs in $bench_tmp)"
	if ! irtt_run "$base-idle.json" "$IDLE_TIME" "$dst"; then
		say "bench: round $round $c: the idle probe failed: $(head -c 300 "$base-idle.json.err")"
		jq -nc --argjson round "$round" --arg c "$c" '{round: $round, case: $c, ok: false, failed: "idle probe"}' >>"$RUNS"
		return 1
	fi
	class_counters >"$base-class0"
	c0=$(cpu_sample)
	timeout $((LOAD_TIME + 30)) ip netns exec "$NS_A" iperf3 -c "$dst" -p "$IPERF_PORT" \
		-P "$STREAMS" -t "$LOAD_TIME" --json >"$base-bulk.json" 2>"$base-bulk.err" &
	bulk=$!
	track "$bulk"
	sleep "$PROBE_SKIP"
	irtt_run "$base-load.json" $((LOAD_TIME - PROBE_SKIP - PROBE_TAIL)) "$dst"
	rc_probe=$?
	wait "$bulk" || rc_bulk=$?
	untrack "$bulk"
	c1=$(cpu_sample)
	class_counters >"$base-class1"
	busy=$(( ${c1%,*} - ${c0%,*} )) idle=$(( ${c1#*,} - ${c0#*,} ))
	if ((rc_probe != 0)) || ((rc_bulk != 0)) || ! jq -e '.end.sum_received' "$base-bulk.json" >/dev/null 2>&1; then
		say "bench: round $round $c: failed (probe exit $rc_probe, iperf3 exit $rc_bulk): $(jq -r '.error // empty' "$base-bulk.json" 2>/dev/null) $(head -c 300 "$base-load.json.err")"
		jq -nc --argjson round "$round" --arg c "$c" '{round: $round, case: $c, ok: false, failed: "load"}' >>"$RUNS"
		restart_bulk_server
		return 1
	fi
	# Per-leaf deltas of the loaded run: [minor, packets, bytes, drops].
	awk 'NR == FNR { p[$1] = $2; b[$1] = $3; d[$1] = $4; next }
	     { print $1, $2 - p[$1], $3 - b[$1], $4 - d[$1] }' "$base-class0" "$base-class1" |
		jq -R 'split(" ") | map(tonumber) | {leaf: .[0], packets: .[1], bytes: .[2], drops: .[3]}' |
		jq -s . >"$base-leaves.json"
	jq -nc --argjson round "$round" --arg c "$c" --arg outer "${T_OUTER[$c]:-IPv$FAMILY}" \
		--slurpfile idle "$base-idle.json" --slurpfile load "$base-load.json" \
		--slurpfile bulk "$base-bulk.json" --slurpfile leaves "$base-leaves.json" \
		--argjson busy "$busy" --argjson idlet "$idle" --argjson nleaves "$LEAVES" \
		--arg bottleneck "$BOTTLENECK" '
		def pct(p): if length == 0 then null else .[([(p * length | ceil) - 1, 0] | max)] end;
		def probe: . as $j |
			[$j.round_trips[] | select(.lost == "false") | .delay.rtt / 1e6] | sort | . as $r |
			{sent: $j.stats.packets_sent, received: $j.stats.packets_received,
			 loss_pct: $j.stats.packet_loss_percent,
			 loss_up_pct: $j.stats.upstream_loss_percent, loss_down_pct: $j.stats.downstream_loss_percent,
			 rtt_ms: {min: $r[0], median: ($r | pct(0.5)), p95: ($r | pct(0.95)),
				  p99: ($r | pct(0.99)), max: $r[-1], mean: ($j.stats.rtt.mean / 1e6)}};
		($load[0] | probe) as $lp |
		{round: $round, case: $c, ok: true, outer: (if $c == "none" then "none (" + $outer + ")" else $outer end),
		 idle: ($idle[0] | probe), load: $lp,
		 bulk: {mbps: ($bulk[0].end.sum_received.bits_per_second / 1e6),
			retransmits: $bulk[0].end.sum_sent.retransmits,
			streams_mbps: [$bulk[0].end.streams[].receiver.bits_per_second / 1e6]},
		 host_busy_pct: (if $busy + $idlet > 0 then $busy / ($busy + $idlet) * 100 else null end)}
		+ (if $bottleneck != "htb" then {} else
		   ($leaves[0] | map(select(.leaf <= $nleaves and .packets > 0))) as $used |
		   # Active: more than a stray packet (ND, a handshake).
		   ($used | map(select(.packets >= ([100, $lp.sent / 2] | min)))) as $active |
		   # The probe alone in a leaf: small packets, about as many as it sent.
		   ($active | map(select(.bytes / .packets < 400 and .packets >= $lp.sent / 2
					  and .packets <= $lp.sent * 2))) as $probe_leaf |
		   {classifier: {leaves_used: ($used | length), leaves_active: ($active | length),
			bulk_leaves: ($active | map(select(.bytes / .packets >= 1000)) | length),
			probe_alone: (($probe_leaf | length) > 0),
			probe_leaf: ($probe_leaf[0].leaf // null),
			drops_total: ($leaves[0] | map(.drops) | add),
			default_leaf_packets: ($leaves[0] | map(select(.leaf == $nleaves + 1) | .packets) | add),
			leaves: ($used | sort_by(-.bytes))}} end)' >>"$RUNS" || die "cannot summarise round $round $c"
	tail -n 1 "$RUNS" | jq -r '
		def r(x): if x == null then "n/a" else (x * 100 | round) / 100 | tostring end;
		"  round \(.round) \(.case): idle RTT median \(r(.idle.rtt_ms.median)) ms; loaded median \(r(.load.rtt_ms.median)) p95 \(r(.load.rtt_ms.p95)) p99 \(r(.load.rtt_ms.p99)) ms, loss \(r(.load.loss_pct))%; bulk \(r(.bulk.mbps)) Mbit/s" +
		(if .classifier then ", leaves active \(.classifier.leaves_active), probe alone: \(.classifier.probe_alone)" else "" end)' >&2
	return 0
}

# ---- the machine -------------------------------------------------------------------

machine_json()
{
	local model hv hv_vendor fs_describe fs_commit fs_version built stale src_clean

	model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	hv=$(grep -qw hypervisor /proc/cpuinfo && echo true || echo false)
	hv_vendor=$(lscpu 2>/dev/null | awk -F': *' '/^Hypervisor vendor/ { print $2 }')
	fs_describe=$(git -C "$top_srcdir" describe --always --dirty --tags 2>/dev/null || echo unknown)
	fs_commit=$(git -C "$top_srcdir" rev-parse HEAD 2>/dev/null || echo unknown)
	fs_version=$("$FLOWSPREADD" --version 2>/dev/null | head -n 1)
	built=$(date -u -r "$FLOWSPREADD" +%Y-%m-%dT%H:%M:%SZ)
	# "-dirty" may come from files that do not go into the daemon.
	src_clean=true
	[[ -n $(git -C "$top_srcdir" status --porcelain -- src include Makefile.am configure.ac 2>/dev/null) ]] &&
		src_clean=false
	stale=false
	[[ -n $(find "$top_srcdir/src" "$top_srcdir/include" -name '*.[ch]' -newer "$FLOWSPREADD" 2>/dev/null | head -n 1) ]] &&
		stale=true
	jq -n --arg model "$model" --argjson nproc "$(nproc)" --arg kernel "$(uname -r)" \
		--argjson hypervisor "$hv" --arg hv_vendor "$hv_vendor" \
		--arg os "$(. /etc/os-release && echo "$PRETTY_NAME")" \
		--arg fs_describe "$fs_describe" --arg fs_commit "$fs_commit" --arg fs_version "$fs_version" \
		--arg built "$built" --argjson stale "$stale" --argjson src_clean "$src_clean" --arg fs_binary "$FLOWSPREADD" \
		--arg cflags "$(grep -m1 '^CFLAGS = ' "$(dirname "$FLOWSPREADD")/Makefile" 2>/dev/null | cut -d' ' -f3-)" \
		--arg wg "$(wireguard-go --version 2>/dev/null | head -n 1)" \
		--arg wg_pkg "$(dpkg-query -W -f '${Version}' wireguard-go 2>/dev/null || echo unknown)" \
		--arg iperf "$(iperf3 --version 2>/dev/null | head -n 1)" \
		--arg irtt "$(irtt version 2>/dev/null | head -n 1)" \
		--arg nft "$(nft --version 2>/dev/null)" --arg iproute "$(ip -V 2>/dev/null)" \
		'{machine: {nproc: $nproc, cpu_model: $model, kernel: $kernel, os: $os,
			    hypervisor: $hypervisor, hypervisor_vendor: $hv_vendor},
		  versions: {flowspread_git_describe: $fs_describe, flowspread_commit: $fs_commit,
			     flowspread_daemon_sources_unmodified: $src_clean,
			     flowspreadd: $fs_version, flowspreadd_built: $built,
			     flowspreadd_older_than_sources: $stale, flowspreadd_binary: $fs_binary,
			     flowspreadd_cflags: $cflags, wireguard_go: $wg, wireguard_go_debian: $wg_pkg,
			     iperf3: $iperf, irtt: $irtt, nft: $nft, iproute2: $iproute}}'
}

# ---- the run -----------------------------------------------------------------------

say "bench: fairness: ${CASE_LIST[*]} x $ROUNDS rounds; bottleneck $RATE_MBIT Mbit/s, $BOTTLENECK$([[ $BOTTLENECK == htb ]] && echo " ($LEAVES leaves, pfifo $LIMIT, seed $SEED)")"
MACHINE=$(machine_json)
[[ $(jq -r .versions.flowspreadd_older_than_sources <<<"$MACHINE") == true ]] &&
	say "bench: WARNING: $FLOWSPREADD is older than files in src/ or include/"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
setup_network
for c in "${CASE_LIST[@]}"; do
	[[ $c == none ]] || setup_tunnel "$c"
done
start_servers
say "bench: topology up"

began=$(date +%s)
failures=0
for ((round = 1; round <= ROUNDS; round++)); do
	for c in "${CASE_LIST[@]}"; do
		run_case "$round" "$c" || ((failures++))
	done
done
elapsed=$(($(date +%s) - began))
n "$NS_R" tc -s qdisc show dev toB >"$bench_tmp/qdisc-final.txt" 2>&1

jq -s --argjson m "$MACHINE" --arg date "$STAMP" --arg cmd "$0${ORIG_ARGS:+ $ORIG_ARGS}" \
	--argjson rounds "$ROUNDS" --argjson load_time "$LOAD_TIME" --argjson idle_time "$IDLE_TIME" \
	--argjson probe_skip "$PROBE_SKIP" --argjson probe_tail "$PROBE_TAIL" \
	--argjson streams "$STREAMS" --argjson interval "$INTERVAL_MS" --argjson rate "$RATE_MBIT" \
	--argjson leaves "$LEAVES" --argjson limit "$LIMIT" --arg seed "$SEED" \
	--arg bottleneck "$BOTTLENECK" --arg bottleneck_note "$BOTTLENECK_NOTE" \
	--argjson have_fq_codel "$HAVE_FQ_CODEL" --argjson have_cake "$HAVE_CAKE" \
	--argjson family "$FAMILY" --argjson ports_family "$PORTS_FAMILY" --argjson mtu "$TUNNEL_MTU" \
	--argjson elapsed "$elapsed" --arg load_before "$LOAD_BEFORE" \
	--arg load_after "$(cut -d' ' -f1-3 /proc/loadavg)" \
	--arg qdisc_final "$(cat "$bench_tmp/qdisc-final.txt")" \
	--argjson cases "$(printf '%s\n' "${CASE_LIST[@]}" | jq -R . | jq -s .)" '
	def median: map(select(. != null)) | sort | if length == 0 then null
		elif length % 2 == 1 then .[length / 2 | floor]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	. as $runs |
	def ok($c): [$runs[] | select(.ok and .case == $c)];
	def summary($c): ok($c) as $r |
		{ok_runs: ($r | length), outer: ($r[0].outer // null),
		 idle_rtt_ms_median: ($r | map(.idle.rtt_ms.median) | median),
		 idle_rtt_ms_p99: ($r | map(.idle.rtt_ms.p99) | median),
		 idle_loss_pct: ($r | map(.idle.loss_pct) | median),
		 load_rtt_ms_median: ($r | map(.load.rtt_ms.median) | median),
		 load_rtt_ms_p95: ($r | map(.load.rtt_ms.p95) | median),
		 load_rtt_ms_p99: ($r | map(.load.rtt_ms.p99) | median),
		 load_loss_pct: ($r | map(.load.loss_pct) | median),
		 load_loss_up_pct: ($r | map(.load.loss_up_pct) | median),
		 bulk_mbps: ($r | map(.bulk.mbps) | median),
		 bulk_retransmits: ($r | map(.bulk.retransmits) | median),
		 host_busy_pct: ($r | map(.host_busy_pct) | median)}
		+ (if $bottleneck == "htb" then
			{leaves_active: ($r | map(.classifier.leaves_active)),
			 probe_alone_runs: ($r | map(select(.classifier.probe_alone)) | length)} else {} end);
	{benchmark: "flowspread bench/fairness.sh", date: $date, command: $cmd} + $m +
	{config: {rounds: $rounds, cases: $cases, order: "each round: the cases in this order",
		  bulk: {tool: "iperf3 -P", streams: $streams, seconds: $load_time, direction: "A -> B"},
		  probe: {tool: "irtt", interval_ms: $interval, packet_bytes: 60, idle_seconds: $idle_time,
			  under_load: "from second \($probe_skip) of the load to \($probe_tail) s before its end"},
		  bottleneck: {where: "R egress toward B (A -> B direction only)", kind: $bottleneck,
			       note: $bottleneck_note, fq_codel_available: $have_fq_codel, cake_available: $have_cake,
			       rate_mbit: $rate, leaves: $leaves, leaf_qdisc: "pfifo limit \($limit)",
			       leaf_class: "htb rate \($rate * 1000 / $leaves | floor)kbit ceil \($rate)mbit quantum 1514",
			       classifier: "nft postrouting: meta priority set jhash saddr . daddr . l4proto . th sport . th dport mod \($leaves) seed \($seed) offset 0x10001",
			       a_egress_gso_max_segs: 1},
		  outer_family: {none_wg_off: $family, addresses: 6, ports: $ports_family},
		  tunnel_mtu: $mtu, inner: "IPv6 fd00:f5:K::/64",
		  spreading: "both ends spread, each with the other side'"'"'s prefix (ports) configured: pairs used mirrored; spread_pairs 1024; addresses: A 2001:db8:f6a::/64, B 2001:db8:f6b::/64 routed through R; ports 40000-40063 at both",
		  elapsed_s: $elapsed},
	 host: {loadavg_before: $load_before, loadavg_after: $load_after},
	 summary: ($cases | map({(.): summary(.)}) | add),
	 qdisc_after: $qdisc_final,
	 runs: $runs}' "$RUNS" >"$JSON" || die "cannot write $JSON"
chmod 0644 "$JSON"

jq -r '
	def r(x; n): if x == null then "n/a" else (x * n | round) / n | tostring end;
	def col(w): . + " " * ([w - length, 0] | max);
	def rcol(w): (" " * ([w - length, 0] | max)) + .;
	def casename: {none: "no tunnel", wg: "wireguard-go", off: "flowspread, spread off",
		    addresses: "flowspread, addresses", ports: "flowspread, ports"}[.];
	"",
	"flowspread \(.versions.flowspread_git_describe) vs \(.versions.wireguard_go); \(.machine.nproc) CPUs, kernel \(.machine.kernel)",
	"bottleneck: \(.config.bottleneck.rate_mbit) Mbit/s, \(.config.bottleneck.kind) (\(.config.bottleneck.note))" +
		(if .config.bottleneck.kind == "htb" then "; \(.config.bottleneck.leaves) leaves, \(.config.bottleneck.leaf_qdisc)" else "" end),
	"load: \(.config.bulk.streams) TCP flows A -> B for \(.config.bulk.seconds) s; probe: irtt every \(.config.probe.interval_ms) ms; \(.config.rounds) rounds, medians over rounds",
	"",
	"case                      outer        idle RTT   loaded RTT (ms)            probe   bulk      leaves   probe alone",
	"                                        med (ms)   median    p95      p99     loss %  Mbit/s    active   (runs)",
	(.summary | to_entries[] | .key as $k | .value as $v |
	 "\($k | casename | col(26))\($v.outer // "" | col(13))\(r($v.idle_rtt_ms_median; 100) | rcol(8))   \(r($v.load_rtt_ms_median; 100) | rcol(7))  \(r($v.load_rtt_ms_p95; 100) | rcol(7))  \(r($v.load_rtt_ms_p99; 100) | rcol(7))  \(r($v.load_loss_pct; 100) | rcol(6))  \(r($v.bulk_mbps; 10) | rcol(6))    " +
	 (if $v.leaves_active then "\($v.leaves_active | map(tostring) | join(",") | col(9))\($v.probe_alone_runs)/\($v.ok_runs)" else "" end))
' "$JSON"
say ""
say "bench: results written to $JSON"
((failures == 0)) || { say "bench: $failures runs failed (see the JSON)"; exit 1; }
exit 0
