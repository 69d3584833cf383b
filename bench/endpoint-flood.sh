#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Endpoint flood: what flowspreadd and wireguard-go keep as one peer sends
# from more and more outer source addresses, and carries more and more
# inner flows. Same run, same traffic, one after the other at each step.
#
#                    +----------------------------------------+
#                    | fsbench$$-p: wg-probe (plain UDP)      |
#                    |   local 2001:db8:77::/64 (the sources) |
#                    |   vfs 2001:db8:f1::1   vwg 2001:db8:f2::1
#                    +------+---------------------------+-----+
#                           |                           |
#   +-----------------------+--------+   +--------------+-----------------+
#   | fsbench$$-f: flowspreadd :51001|   | fsbench$$-w: wireguard-go :52001|
#   |   veth0 2001:db8:f1::2         |   |   veth0 2001:db8:f2::2          |
#   |   tunnel 198.51.100.2/24       |   |   tunnel 198.51.100.2/24        |
#   +--------------------------------+   +---------------------------------+
#
# Each daemon has one peer, the probe (allowed IPs 198.51.100.1/32), and
# routes 2001:db8:77::/64 back to it. At each step wg-probe completes a
# handshake with the daemon, sends authenticated data messages at a fixed
# rate, then one echo from its own address; then we read the daemon's
# VmRSS, its received bytes and (flowspreadd) endpoint_count, sampled
# during the flood too.
#
#   sources N   N messages, each from another address of the prefix
#               (host addresses 1..N), each carrying another inner flow
#   flows M     M messages from the probe's own address, M inner UDP flows
#   send        the daemon is the sender: a python3 sender in its namespace
#               writes SEND_FLOWS UDP packets, each of another flow (16
#               source ports x distinct destination ports), to the probe's
#               tunnel address; flowspreadd has a local spread_prefix
#               (2001:db8:f5::/64), so source spreading runs. A tcpdump
#               in the probe's namespace counts the distinct outer sources.
#
# A benchmark, not a test: `make check' does not run it. Root only.

set -uo pipefail

usage()
{
	cat <<EOF
Usage: $0 [OPTION]...
Resident memory and endpoint table of flowspreadd beside wireguard-go's
memory while one peer floods them from many sources and inner flows.

  --sources LIST      comma-separated source counts (default 100,1000,10000,100000)
  --flows LIST        comma-separated inner flow counts
                      (default 1000,10000,100000,1000000)
  --rate R            data messages per second the probe sends (default 25000)
  --send-flows N      flows the daemons send in the last step, 0 to skip
                      (default 1000000)
  --send-rate R       packets per second of that sender (default 50000)
  --flowspreadd PATH  the daemon (default: \$FLOWSPREADD, else ./flowspreadd)
  --probe PATH        wg-probe (default: tests/netns/wg-probe beside the daemon)
  --json PATH         where to write the results
                      (default bench/results/endpoint-flood-DATE.json)
  --verbose           show every command
  -h, --help          this text

Build without sanitizers first (ASan's quarantine inflates VmRSS):
  mkdir -p /tmp/build-bench && cd /tmp/build-bench &&
  /path/to/flowspread/configure && make -j2 flowspreadd tests/netns/wg-probe
EOF
}

ORIG_ARGS="$*"
bench_dir=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "$bench_dir/.." && pwd)

SOURCES=100,1000,10000,100000
FLOWS=1000,10000,100000,1000000
RATE=25000
SEND_FLOWS=1000000
SEND_RATE=50000
FLOWSPREADD=${FLOWSPREADD:-}
PROBE=
JSON=

while (($#)); do
	case $1 in
	--sources) SOURCES=$2; shift ;;
	--flows) FLOWS=$2; shift ;;
	--rate) RATE=$2; shift ;;
	--send-flows) SEND_FLOWS=$2; shift ;;
	--send-rate) SEND_RATE=$2; shift ;;
	--flowspreadd) FLOWSPREADD=$2; shift ;;
	--probe) PROBE=$2; shift ;;
	--json) JSON=$2; shift ;;
	--verbose) BENCH_VERBOSE=1 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done

[[ $SOURCES =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || { echo "--sources: expected numbers, comma-separated" >&2; exit 2; }
[[ $FLOWS =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || { echo "--flows: expected numbers, comma-separated" >&2; exit 2; }
[[ $RATE =~ ^[1-9][0-9]*$ && $SEND_RATE =~ ^[1-9][0-9]*$ ]] || { echo "--rate, --send-rate: expected positive numbers" >&2; exit 2; }
[[ $SEND_FLOWS =~ ^[0-9]+$ ]] || { echo "--send-flows: expected a number" >&2; exit 2; }
IFS=, read -r -a SOURCE_STEPS <<<"$SOURCES"
IFS=, read -r -a FLOW_STEPS <<<"$FLOWS"
if [[ -z $FLOWSPREADD ]]; then
	if [[ -x ./flowspreadd ]]; then FLOWSPREADD=$PWD/flowspreadd; else FLOWSPREADD=$top_srcdir/flowspreadd; fi
fi
[[ -n $PROBE ]] || PROBE=$(dirname "$FLOWSPREADD")/tests/netns/wg-probe
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
[[ -n $JSON ]] || JSON=$top_srcdir/bench/results/endpoint-flood-$STAMP.json
export BENCH_VERBOSE

# shellcheck source=bench/lib.sh
. "$bench_dir/lib.sh"

bench_init jq python3 tcpdump
[[ -x $PROBE ]] || die "$PROBE is not there: make tests/netns/wg-probe (or give --probe)"
(umask 022 && mkdir -p "$(dirname "$JSON")") || die "cannot create $(dirname "$JSON")"
STEPS=$bench_tmp/steps.jsonl
: >"$STEPS"

NS_P=fsbench$BENCH_PID-p
NS_F=fsbench$BENCH_PID-f
NS_W=fsbench$BENCH_PID-w
SOURCE_PREFIX=2001:db8:77::/64
SPREAD_PREFIX=2001:db8:f5::/64
PROBE_PORT_FS=40001
PROBE_PORT_WG=40002

# uapi IFNAME: sends stdin (one request) to IFNAME's UAPI socket, prints the answer.
uapi()
{
	python3 -c "$(cat <<-'EOF'
	import socket, sys
	s = socket.socket(socket.AF_UNIX)
	s.settimeout(5)
	s.connect(sys.argv[1])
	s.sendall(sys.stdin.buffer.read())
	got = b''
	while b'errno=' not in got or not got.endswith(b'\n\n'):
	    more = s.recv(65536)
	    if not more:
	        break
	    got += more
	sys.stdout.buffer.write(got)
	sys.exit(0 if b'errno=0\n' in got else 1)
	EOF
	)" "/var/run/wireguard/$1.sock"
}

endpoint_count() { printf 'get=1\n\n' | uapi "$FS_IF_A" | sed -n 's/^endpoint_count=//p'; }

# The transfer counters of the daemon of KIND for the probe: "RX TX".
transfer()
{
	local ns ifname

	if [[ $1 == fs ]]; then ns=$NS_F ifname=$FS_IF_A; else ns=$NS_W ifname=$WG_IF_A; fi
	ip netns exec "$ns" wg show "$ifname" transfer | awk -v k="$PROBE_PUB" '$1 == k { print $2, $3 }'
}

setup()
{
	local ns

	bench_netns "$NS_P" "$NS_F" "$NS_W"
	ip -n "$NS_P" link add vfs type veth peer name veth0 netns "$NS_F" || die "cannot create a veth pair"
	ip -n "$NS_P" link add vwg type veth peer name veth0 netns "$NS_W" || die "cannot create a veth pair"
	ip -n "$NS_P" addr add 2001:db8:f1::1/64 dev vfs nodad
	ip -n "$NS_P" addr add 2001:db8:f2::1/64 dev vwg nodad
	ip -n "$NS_F" addr add 2001:db8:f1::2/64 dev veth0 nodad
	ip -n "$NS_W" addr add 2001:db8:f2::2/64 dev veth0 nodad
	for ns in "$NS_P:vfs" "$NS_P:vwg" "$NS_F:veth0" "$NS_W:veth0"; do
		ip -n "${ns%%:*}" link set "${ns#*:}" up
	done
	# The probe sends from the prefix and takes the replies to it.
	ip -n "$NS_P" -6 route add local "$SOURCE_PREFIX" dev lo
	ip -n "$NS_F" -6 route add "$SOURCE_PREFIX" via 2001:db8:f1::1
	ip -n "$NS_W" -6 route add "$SOURCE_PREFIX" via 2001:db8:f2::1

	wg genkey >"$bench_tmp/probe.key"
	wg genkey >"$bench_tmp/fs.key"
	wg genkey >"$bench_tmp/wg.key"
	PROBE_PUB=$(wg pubkey <"$bench_tmp/probe.key")
	FS_PUB=$(wg pubkey <"$bench_tmp/fs.key")
	WG_PUB=$(wg pubkey <"$bench_tmp/wg.key")

	start_daemon fs "$NS_F" "$FS_IF_A"; FS_PID=$REPLY
	start_daemon wg "$NS_W" "$WG_IF_A"; WG_PID=$REPLY
	n "$NS_F" wg set "$FS_IF_A" private-key "$bench_tmp/fs.key" listen-port 51001 \
		peer "$PROBE_PUB" allowed-ips 198.51.100.1/32 || die "wg set $FS_IF_A failed"
	n "$NS_W" wg set "$WG_IF_A" private-key "$bench_tmp/wg.key" listen-port 52001 \
		peer "$PROBE_PUB" allowed-ips 198.51.100.1/32 || die "wg set $WG_IF_A failed"
	n "$NS_F" ip addr add 198.51.100.2/24 dev "$FS_IF_A"
	n "$NS_W" ip addr add 198.51.100.2/24 dev "$WG_IF_A"
	n "$NS_F" ip link set "$FS_IF_A" mtu 1420 up
	n "$NS_W" ip link set "$WG_IF_A" mtu 1420 up
}

# probe KIND NAME [OPTION...]: wg-probe initiates to the daemon of KIND from
# its port for KIND, floods as OPTIONs say, then one echo. Its output in
# $bench_tmp/probe-NAME-KIND.log; sets PROBE_MSGS, PROBE_BYTES (0 without a
# flood), PROBE_SECONDS and COUNT_MAX (flowspreadd: the largest
# endpoint_count sampled every 0.5 s during the run).
probe()
{
	local kind=$1 name=$2 log pid count t0 endpoint port pub
	shift 2

	if [[ $kind == fs ]]; then
		endpoint='[2001:db8:f1::2]:51001' port=$PROBE_PORT_FS pub=$FS_PUB
	else
		endpoint='[2001:db8:f2::2]:52001' port=$PROBE_PORT_WG pub=$WG_PUB
	fi
	log=$bench_tmp/probe-$name-$kind.log
	chat "  [$NS_P] wg-probe initiator --endpoint $endpoint --listen $port $*"
	t0=$(date +%s.%N)
	ip netns exec "$NS_P" "$PROBE" initiator --private-key "$bench_tmp/probe.key" \
		--peer-public "$pub" --endpoint "$endpoint" --listen "$port" \
		--inner-src 198.51.100.1 --inner-dst 198.51.100.2 --timeout 300 "$@" >"$log" 2>&1 &
	pid=$!
	track "$pid"
	COUNT_MAX=0
	while alive "$pid"; do
		if [[ $kind == fs ]]; then
			count=$(endpoint_count)
			((${count:-0} > COUNT_MAX)) && COUNT_MAX=$count
		fi
		sleep 0.5
	done
	wait "$pid" || { cat "$log" >&2; die "wg-probe ($name, $kind) failed"; }
	untrack "$pid"
	PROBE_SECONDS=$(awk -v s="$t0" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
	PROBE_MSGS=$(sed -n 's/^-> data flood: \([0-9]*\) data messages, .*/\1/p' "$log")
	PROBE_BYTES=$(sed -n 's/^-> data flood: [0-9]* data messages, \([0-9]*\) bytes.*/\1/p' "$log")
	: "${PROBE_MSGS:=0}" "${PROBE_BYTES:=0}"
}

# step PHASE STEP KIND [OPTION...]: one probe run and what the daemon shows
# after it; a JSON line in $STEPS.
step()
{
	local phase=$1 stepn=$2 kind=$3 pid rx0 rx1 count=null count_max=null
	shift 3

	[[ $kind == fs ]] && pid=$FS_PID || pid=$WG_PID
	alive "$pid" || die "the $kind daemon died (log in $bench_tmp)"
	read -r rx0 _ <<<"$(transfer "$kind")"
	probe "$kind" "$phase-$stepn" "$@"
	sleep 1
	read -r rx1 _ <<<"$(transfer "$kind")"
	if [[ $kind == fs ]]; then
		count=$(endpoint_count)
		count_max=$((COUNT_MAX > count ? COUNT_MAX : count))
	fi
	jq -nc --arg phase "$phase" --argjson step "$stepn" --arg impl "$kind" \
		--argjson rss "$(vmrss "$pid")" --argjson hwm "$(vmhwm "$pid")" \
		--argjson threads "$(nthreads "$pid")" --argjson count "$count" \
		--argjson count_max "$count_max" --argjson msgs "$PROBE_MSGS" \
		--argjson bytes "$PROBE_BYTES" --argjson rx "$((rx1 - rx0))" \
		--argjson secs "$PROBE_SECONDS" \
		'{phase: $phase, step: $step, impl: $impl, rss_kib: $rss, hwm_kib: $hwm,
		  threads: $threads, endpoint_count: $count, endpoint_count_max: $count_max,
		  sent_messages: $msgs, sent_bytes: $bytes, rx_bytes: $rx,
		  received_pct: (if $bytes > 0 then ([$rx / $bytes * 100, 100] | min) else null end),
		  seconds: $secs}' >>"$STEPS"
	tail -n 1 "$STEPS" | jq -r '"  \(.phase) \(.step) \(if .impl == "fs" then "flowspreadd " else "wireguard-go" end): VmRSS \(.rss_kib) KiB" +
		(if .endpoint_count != null then ", endpoint_count \(.endpoint_count) (max \(.endpoint_count_max))" else "" end) +
		(if .received_pct != null then ", received \(.received_pct * 10 | round / 10)% of \(.sent_messages) messages" else "" end) +
		" in \(.seconds) s"' >&2
}

# The daemon of KIND sends SEND_FLOWS inner flows to the probe's tunnel
# address: python3 in its namespace, paced at SEND_RATE.
send_step()
{
	local kind=$1 ns pid port dev rss0 tx0 tx1 sender_out distinct dump_pid sink_pid
	local sent errors secs captured

	if [[ $kind == fs ]]; then
		ns=$NS_F pid=$FS_PID port=$PROBE_PORT_FS dev=vfs
	else
		ns=$NS_W pid=$WG_PID port=$PROBE_PORT_WG dev=vwg
	fi
	# A session to send with: a handshake and an echo from the probe's port.
	probe "$kind" "send" --count 1
	# Something bound to that port, so the probe's kernel drops quietly
	# what it cannot take instead of answering each with an ICMPv6 error.
	ip netns exec "$NS_P" python3 -c "$(cat <<-'EOF'
	import socket, sys, time
	s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
	s.bind(('::', int(sys.argv[1])))
	time.sleep(3600)
	EOF
	)" "$port" &
	track $!
	sink_pid=$!
	ip netns exec "$NS_P" tcpdump -n -q -i "$dev" -c 20000 "ip6 and udp dst port $port" \
		>"$bench_tmp/send-$kind.dump" 2>/dev/null &
	dump_pid=$!
	track "$dump_pid"
	sleep 1
	rss0=$(vmrss "$pid")
	read -r _ tx0 <<<"$(transfer "$kind")"
	sender_out=$(ip netns exec "$ns" python3 -c "$(cat <<-'EOF'
	import socket, sys, time
	flows, rate = int(sys.argv[1]), int(sys.argv[2])
	socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(16)]
	payload = b'flowspread bench endpoint-flood'[:32].ljust(32, b'.')
	per = (flows + len(socks) - 1) // len(socks)
	sent = errors = 0
	start = time.monotonic()
	for i in range(flows):
	    try:
	        socks[i % len(socks)].sendto(payload, ('198.51.100.1', 1024 + i // len(socks)))
	        sent += 1
	    except OSError:
	        errors += 1
	    if i % 256 == 255:
	        due = start + (i + 1) / rate
	        now = time.monotonic()
	        if due > now:
	            time.sleep(due - now)
	print(sent, errors, round(time.monotonic() - start, 1))
	EOF
	)" "$SEND_FLOWS" "$SEND_RATE") || die "the sender in $ns failed"
	sleep 1
	read -r _ tx1 <<<"$(transfer "$kind")"
	stop_pid "$dump_pid"
	stop_pid "$sink_pid"
	captured=$(awk '$2 == "IP6"' "$bench_tmp/send-$kind.dump" | wc -l)
	distinct=$(awk '$2 == "IP6" { sub(/\.[0-9]+$/, "", $3); print $3 }' "$bench_tmp/send-$kind.dump" |
		sort -u | wc -l)
	read -r sent errors secs <<<"$sender_out"
	jq -nc --arg impl "$kind" --argjson step "$SEND_FLOWS" --argjson rss0 "$rss0" \
		--argjson rss "$(vmrss "$pid")" --argjson hwm "$(vmhwm "$pid")" \
		--argjson threads "$(nthreads "$pid")" --argjson sent "$sent" --argjson errors "$errors" \
		--argjson secs "$secs" --argjson tx "$((tx1 - tx0))" \
		--argjson captured "$captured" --argjson distinct "$distinct" \
		'{phase: "send", step: $step, impl: $impl, rss_before_kib: $rss0, rss_kib: $rss,
		  hwm_kib: $hwm, threads: $threads, sent_packets: $sent, send_errors: $errors,
		  seconds: $secs, tx_bytes: $tx, tx_messages: ($tx / 96 | floor),
		  captured: $captured, distinct_outer_sources_captured: $distinct}' >>"$STEPS"
	tail -n 1 "$STEPS" | jq -r '"  send \(.step) \(if .impl == "fs" then "flowspreadd " else "wireguard-go" end): VmRSS \(.rss_before_kib) -> \(.rss_kib) KiB, \(.sent_packets) packets into the TUN in \(.seconds) s, ~\(.tx_messages) sent encrypted, \(.distinct_outer_sources_captured) outer sources in \(.captured) captured"' >&2
}

machine_json()
{
	jq -n --argjson nproc "$(nproc)" \
		--arg model "$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)" \
		--arg family "$(awk -F': *' '/^cpu family/ { print $2; exit }' /proc/cpuinfo)" \
		--arg cpu_model "$(awk -F': *' '/^model\t/ { print $2; exit }' /proc/cpuinfo)" \
		--arg kernel "$(uname -r)" --arg os "$(. /etc/os-release && echo "$PRETTY_NAME")" \
		--argjson mem_kib "$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)" \
		--arg fs_describe "$(git -C "$top_srcdir" describe --always --dirty --tags 2>/dev/null || echo unknown)" \
		--arg fs_version "$("$FLOWSPREADD" --version 2>/dev/null | head -n 1)" \
		--arg cflags "$(grep -m1 '^CFLAGS = ' "$(dirname "$FLOWSPREADD")/Makefile" 2>/dev/null | cut -d' ' -f3-)" \
		--arg wg_version "$(wireguard-go --version 2>/dev/null | head -n 1)" \
		--arg wg_pkg "$(dpkg-query -W -f '${Version}' wireguard-go 2>/dev/null || echo unknown)" \
		'{machine: {nproc: $nproc, cpu_model: $model, cpu_family: $family,
		            cpu_model_number: $cpu_model, kernel: $kernel, os: $os,
		            mem_total_mib: ($mem_kib / 1024 | floor)},
		  versions: {flowspread_git_describe: $fs_describe, flowspreadd: $fs_version,
		             flowspreadd_cflags: $cflags, wireguard_go: $wg_version,
		             wireguard_go_debian: $wg_pkg}}'
}

# ---- the run -----------------------------------------------------------------------

say "bench: endpoint flood, flowspreadd $FLOWSPREADD vs wireguard-go, probe $PROBE"
MACHINE=$(machine_json)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
began=$(date +%s)
setup
for kind in fs wg; do
	step idle 0 "$kind" --count 3
done
for n_sources in "${SOURCE_STEPS[@]}"; do
	for kind in fs wg; do
		step sources "$n_sources" "$kind" --flood-sources "$n_sources" \
			--source-prefix "$SOURCE_PREFIX" --inner-flows "$n_sources" --flood-rate "$RATE"
	done
done
for n_flows in "${FLOW_STEPS[@]}"; do
	for kind in fs wg; do
		step flows "$n_flows" "$kind" --inner-flows "$n_flows" --flood-rate "$RATE"
	done
done
if ((SEND_FLOWS > 0)); then
	printf 'set=1\nspread_prefix=%s\n\n' "$SPREAD_PREFIX" | uapi "$FS_IF_A" >/dev/null ||
		die "cannot set spread_prefix $SPREAD_PREFIX on flowspreadd"
	for kind in fs wg; do
		send_step "$kind"
	done
fi
elapsed=$(($(date +%s) - began))

jq -s --argjson m "$MACHINE" --arg date "$STAMP" --arg cmd "$0${ORIG_ARGS:+ $ORIG_ARGS}" \
	--argjson rate "$RATE" --argjson send_rate "$SEND_RATE" --argjson elapsed "$elapsed" \
	--arg load_before "$LOAD_BEFORE" --arg load_after "$(cut -d' ' -f1-3 /proc/loadavg)" \
	--arg source_prefix "$SOURCE_PREFIX" --arg spread_prefix "$SPREAD_PREFIX" '
	. as $steps |
	def pair(p; s): {fs: ([$steps[] | select(.phase == p and .step == s and .impl == "fs")][0]),
			 wg: ([$steps[] | select(.phase == p and .step == s and .impl == "wg")][0])};
	{benchmark: "flowspread bench/endpoint-flood.sh", date: $date, command: $cmd} + $m +
	{config: {probe_rate_per_s: $rate, send_rate_per_s: $send_rate, source_prefix: $source_prefix,
		  flowspread_spread_prefix_in_send_step: $spread_prefix, elapsed_s: $elapsed,
		  flowspread_endpoint_limit: 8, message_bytes: 96,
		  note: "each step: a fresh wg-probe run (handshake, flood, one echo) to flowspreadd, then the same to wireguard-go; sources step N: host addresses 1..N of the prefix, message i from source i carrying inner flow i; flows step M: M messages from the probe address, M inner UDP flows; RSS read 1 s after the run"},
	 host: {loadavg_before: $load_before, loadavg_after: $load_after},
	 table: ([$steps[] | select(.impl == "fs") | {phase, step}] | map(. as $k | pair($k.phase; $k.step) as $p |
		$k + {fs_rss_kib: $p.fs.rss_kib, wg_rss_kib: $p.wg.rss_kib,
		      ratio_fs_over_wg: (if $p.wg.rss_kib > 0 then $p.fs.rss_kib / $p.wg.rss_kib else null end),
		      fs_endpoint_count: $p.fs.endpoint_count, fs_endpoint_count_max: $p.fs.endpoint_count_max,
		      fs_received_pct: $p.fs.received_pct, wg_received_pct: $p.wg.received_pct})),
	 steps: $steps}' "$STEPS" >"$JSON" || die "cannot write $JSON"
chmod 0644 "$JSON"

jq -r '
	def r(x; n): if x == null then "-" else (x * n | round) / n | tostring end;
	def pad(w): tostring | (" " * (w - length)) + .;
	"",
	"flowspread \(.versions.flowspread_git_describe) vs \(.versions.wireguard_go) (Debian \(.versions.wireguard_go_debian))",
	"machine: \(.machine.nproc) CPUs, \(.machine.cpu_model), kernel \(.machine.kernel), \(.machine.os); load \(.host.loadavg_before) before, \(.host.loadavg_after) after",
	"probe rate \(.config.probe_rate_per_s) messages/s; \(.config.elapsed_s) s in all",
	"",
	"step                 flowspreadd KiB  endpoint_count (max)  wireguard-go KiB   fs/wg   received fs / wg",
	(.table[] | "\(.phase) \(.step)" as $s | "\($s)\(" " * (20 - ($s | length)))\(.fs_rss_kib | pad(16))  \(r(.fs_endpoint_count; 1) | pad(9)) (\(r(.fs_endpoint_count_max; 1)))\(" " * (10 - (r(.fs_endpoint_count_max; 1) | length)))\(.wg_rss_kib | pad(16))  \(r(.ratio_fs_over_wg; 100) | pad(6))   \(r(.fs_received_pct; 1))% / \(r(.wg_received_pct; 1))%"),
	"",
	"peak VmHWM (KiB): flowspreadd \([.steps[] | select(.impl == "fs") | .hwm_kib] | max), wireguard-go \([.steps[] | select(.impl == "wg") | .hwm_kib] | max)"
' "$JSON" >&2
say "bench: results in $JSON"
