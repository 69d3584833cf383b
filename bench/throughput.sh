#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# flowspreadd vs wireguard-go, side by side in the same run.
#
# Builds the topology of bench/lib.sh (two namespaces, one veth, a
# flowspreadd tunnel and a wireguard-go tunnel over it), then alternates
# the two implementations, round after round, through three iperf3 tests:
#
#   tcp1  single-stream TCP, A -> B            (receiver's Mbit/s)
#   tcp4  four parallel TCP streams, A -> B    (receiver's Mbit/s, summed)
#   udp   UDP with small datagrams (-l 64) at an unlimited offered rate
#         (-b 0): packets per second received by B, and the loss
#
# It prints the medians of each implementation, the ratio flowspread /
# wireguard-go (of the medians, and within each round), the CPU each daemon
# used, both daemons' resident memory idle (configured, one handshake) and
# after the load, and the machine; and writes everything, every single run
# included, to a JSON file. Before each run it waits (briefly) for the
# machine to be quiet, and it records how busy the machine was, since
# both daemons, iperf3 and anything else running share the same CPUs.
#
# A benchmark, not a test: `make check' does not run it. Root only.
# See docs/benchmarks.md for the recorded results and how to read them.

set -uo pipefail

usage()
{
	cat <<EOF
Usage: $0 [OPTION]...
Compares flowspreadd with wireguard-go over the same veth, alternating them.

  --rounds N          rounds of (flowspread, wireguard-go) per test (default 5)
  --time SECONDS      duration of each iperf3 run (default 10)
  --tests LIST        comma-separated, from tcp1,tcp4,udp (default all three)
  --udp-len BYTES     UDP payload length (default 64)
  --udp-rate RATE     iperf3 -b for the UDP test, 0 = unlimited (default 0)
  --workers N         flowspreadd --workers N (default: the daemon's, one per CPU)
  --ipv6              IPv6 outer and inner addresses instead of IPv4
  --spread MODE       flowspread tunnel spreads: off (default), addresses
                      (needs --ipv6), ports, both; each end with the other's
                      prefix/ports, so pairs are used mirrored
  --flowspreadd PATH  the daemon to test (default: \$FLOWSPREADD, else
                      ./flowspreadd, else the source tree's)
  --json PATH         where to write the results
                      (default bench/results/throughput-DATE.json)
  --quiet-below PCT   before each run, wait until the machine (all CPUs) was
                      busy less than PCT% over one second (default 10)...
  --quiet-wait SECONDS  ...but at most this long (default 5); each run
                      records the background load it started with
  --verbose           show every command
  -h, --help          this text

Build the daemon without sanitizers, optimised, first:
  mkdir -p /tmp/build-bench && cd /tmp/build-bench &&
  /path/to/flowspread/configure CFLAGS="-O2 -g" && make -j2 flowspreadd
EOF
}

ORIG_ARGS="$*"
bench_dir=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "$bench_dir/.." && pwd)

ROUNDS=5
SECONDS_PER_RUN=10
TESTS=tcp1,tcp4,udp
UDP_LEN=64
UDP_RATE=0
FS_WORKERS=
FAMILY=4
JSON=
FLOWSPREADD=${FLOWSPREADD:-}
QUIET_BELOW=10
QUIET_WAIT=5

while (($#)); do
	case $1 in
	--rounds) ROUNDS=$2; shift ;;
	--time) SECONDS_PER_RUN=$2; shift ;;
	--tests) TESTS=$2; shift ;;
	--udp-len) UDP_LEN=$2; shift ;;
	--udp-rate) UDP_RATE=$2; shift ;;
	--workers) FS_WORKERS=$2; shift ;;
	--ipv6) FAMILY=6 ;;
	--spread) BENCH_SPREAD=$2; shift ;;
	--flowspreadd) FLOWSPREADD=$2; shift ;;
	--json) JSON=$2; shift ;;
	--quiet-below) QUIET_BELOW=$2; shift ;;
	--quiet-wait) QUIET_WAIT=$2; shift ;;
	--verbose) BENCH_VERBOSE=1 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "--rounds: expected a positive number" >&2; exit 2; }
[[ $SECONDS_PER_RUN =~ ^[1-9][0-9]*$ ]] || { echo "--time: expected a positive number of seconds" >&2; exit 2; }
[[ $QUIET_BELOW =~ ^[0-9]+$ && $QUIET_WAIT =~ ^[0-9]+$ ]] || { echo "--quiet-below, --quiet-wait: expected numbers" >&2; exit 2; }
[[ $UDP_LEN =~ ^[1-9][0-9]*$ ]] || { echo "--udp-len: expected a positive number" >&2; exit 2; }
BENCH_SPREAD=${BENCH_SPREAD:-off}
[[ $BENCH_SPREAD =~ ^(off|addresses|ports|both)$ ]] || { echo "--spread: expected off, addresses, ports or both" >&2; exit 2; }
[[ $BENCH_SPREAD == off || $BENCH_SPREAD == ports || $FAMILY == 6 ]] || { echo "--spread $BENCH_SPREAD needs --ipv6" >&2; exit 2; }
[[ -z $FS_WORKERS || $FS_WORKERS =~ ^[1-9][0-9]*$ ]] || { echo "--workers: expected a positive number" >&2; exit 2; }
IFS=, read -r -a TEST_LIST <<<"$TESTS"
for t in "${TEST_LIST[@]}"; do
	[[ $t == tcp1 || $t == tcp4 || $t == udp ]] || { echo "--tests: unknown test \`$t'" >&2; exit 2; }
done
if [[ -z $FLOWSPREADD ]]; then
	if [[ -x ./flowspreadd ]]; then FLOWSPREADD=$PWD/flowspreadd; else FLOWSPREADD=$top_srcdir/flowspreadd; fi
fi
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
[[ -n $JSON ]] || JSON=$top_srcdir/bench/results/throughput-$STAMP.json
export FS_WORKERS BENCH_VERBOSE BENCH_SPREAD

# shellcheck source=bench/lib.sh
. "$bench_dir/lib.sh"

bench_init jq awk ss
set_family "$FAMILY"
(umask 022 && mkdir -p "$(dirname "$JSON")") || die "cannot create $(dirname "$JSON")"
CLK_TCK=$(getconf CLK_TCK)
# The kernel's softirq threads: packet processing that overflows from the
# daemons' and iperf3's own system calls lands there.
KSOFTIRQD=()
for d in /proc/[0-9]*; do
	read -r comm 2>/dev/null <"$d/comm" || continue
	[[ $comm == ksoftirqd/* ]] && KSOFTIRQD+=("${d#/proc/}")
done
ksoftirqd_ticks()
{
	local pid sum=0

	for pid in "${KSOFTIRQD[@]}"; do
		sum=$((sum + $(cpu_ticks "$pid")))
	done
	echo "$sum"
}
RUNS=$bench_tmp/runs.jsonl
: >"$RUNS"

# ---- the machine and the versions ---------------------------------------------

machine_json()
{
	local model mem_kib hv hv_vendor family cpu_model mhz flags sodium iperf_version
	local fs_describe fs_commit src_clean fs_version stale built wg_version wg_pkg

	model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	mem_kib=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
	hv=$(grep -qw hypervisor /proc/cpuinfo && echo true || echo false)
	hv_vendor=$(lscpu 2>/dev/null | awk -F': *' '/^Hypervisor vendor/ { print $2 }')
	family=$(awk -F': *' '/^cpu family/ { print $2; exit }' /proc/cpuinfo)
	cpu_model=$(awk -F': *' '/^model\t/ { print $2; exit }' /proc/cpuinfo)
	mhz=$(awk -F': *' '/^cpu MHz/ { print $2; exit }' /proc/cpuinfo)
	flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'avx2|avx512f|avx512vl|vaes|sha_ni' | tr '\n' ' ')
	sodium=$(dpkg-query -W -f '${Version}' libsodium23 2>/dev/null || echo unknown)
	fs_describe=$(git -C "$top_srcdir" describe --always --dirty --tags 2>/dev/null || echo unknown)
	fs_commit=$(git -C "$top_srcdir" rev-parse HEAD 2>/dev/null || echo unknown)
	# "-dirty" may come from files that do not go into the daemon.
	if [[ -z $(git -C "$top_srcdir" status --porcelain -- src include Makefile.am configure.ac 2>/dev/null) ]]; then
		src_clean=true
	else
		src_clean=false
	fi
	fs_version=$("$FLOWSPREADD" --version 2>/dev/null | head -n 1)
	# A binary older than the sources was built from another commit.
	stale=false
	[[ -n $(find "$top_srcdir/src" "$top_srcdir/include" -name '*.[ch]' -newer "$FLOWSPREADD" 2>/dev/null | head -n 1) ]] &&
		stale=true
	built=$(date -u -r "$FLOWSPREADD" +%Y-%m-%dT%H:%M:%SZ)
	wg_version=$(wireguard-go --version 2>/dev/null | head -n 1)
	wg_pkg=$(dpkg-query -W -f '${Version}' wireguard-go 2>/dev/null || echo unknown)
	iperf_version=$(iperf3 --version 2>/dev/null | head -n 1)
	jq -n --arg model "$model" --argjson nproc "$(nproc)" --arg kernel "$(uname -r)" \
		--argjson mem_kib "$mem_kib" --argjson hypervisor "$hv" --arg hv_vendor "$hv_vendor" \
		--arg family "$family" --arg cpu_model_nr "$cpu_model" --arg mhz "$mhz" --arg flags "${flags% }" \
		--arg sodium "$sodium" \
		--arg fs_describe "$fs_describe" --arg fs_version "$fs_version" \
		--arg fs_commit "$fs_commit" --argjson src_clean "$src_clean" \
		--argjson stale "$stale" --arg built "$built" \
		--arg fs_binary "$FLOWSPREADD" --arg wg_version "$wg_version" --arg wg_pkg "$wg_pkg" \
		--arg iperf "$iperf_version" --arg os "$(. /etc/os-release && echo "$PRETTY_NAME")" \
		--arg cflags "$(grep -m1 '^CFLAGS = ' "$(dirname "$FLOWSPREADD")/Makefile" 2>/dev/null | cut -d' ' -f3-)" \
		'{machine: {nproc: $nproc, cpu_model: $model, kernel: $kernel, os: $os,
		            cpu_family: $family, cpu_model_number: $cpu_model_nr, cpu_mhz: $mhz, cpu_flags_of_note: $flags,
		            mem_total_mib: ($mem_kib / 1024 | floor), hypervisor: $hypervisor,
		            hypervisor_vendor: $hv_vendor},
		  versions: {flowspread_git_describe: $fs_describe, flowspread_commit: $fs_commit,
		             flowspread_daemon_sources_unmodified: $src_clean, flowspreadd: $fs_version,
		             flowspreadd_built: $built, flowspreadd_older_than_sources: $stale,
		             flowspreadd_binary: $fs_binary, flowspreadd_cflags: $cflags,
		             wireguard_go: $wg_version, wireguard_go_debian: $wg_pkg, iperf3: $iperf,
		             libsodium_debian: $sodium}}'
}

# ---- one run -------------------------------------------------------------------

impl_name() { [[ $1 == fs ]] && echo flowspread || echo wireguard-go; }

# busy_over_1s: how busy all CPUs were over the next second, in percent.
busy_over_1s()
{
	local u0 n0 s0 i0 w0 q0 sq0 st0 u1 n1 s1 i1 w1 q1 sq1 st1 busy total

	read -r _ u0 n0 s0 i0 w0 q0 sq0 st0 _ </proc/stat
	sleep 1
	read -r _ u1 n1 s1 i1 w1 q1 sq1 st1 _ </proc/stat
	busy=$(((u1 + n1 + s1 + q1 + sq1 + st1) - (u0 + n0 + s0 + q0 + sq0 + st0)))
	total=$((busy + (i1 + w1) - (i0 + w0)))
	echo $((total > 0 ? busy * 100 / total : 0))
}

# settle: waits (at most QUIET_WAIT s) for the machine to be quiet; sets
# BACKGROUND (percent busy in the last second before the run) and WAITED.
settle()
{
	local t0=$SECONDS

	BACKGROUND=$(busy_over_1s)
	while ((BACKGROUND >= QUIET_BELOW && SECONDS - t0 < QUIET_WAIT)); do
		BACKGROUND=$(busy_over_1s)
	done
	WAITED=$((SECONDS - t0))
}

# run_one ROUND TEST KIND: one iperf3 run; appends a JSON line to $RUNS.
run_one()
{
	local round=$1 test=$2 kind=$3 dst port pid_a pid_b out err
	local -a args
	local t0a t0b t1a t1b k0 k1 start end rc busy total client
	local u0 n0 s0 i0 w0 q0 sq0 st0 u1 n1 s1 i1 w1 q1 sq1 st1

	if [[ $kind == fs ]]; then
		dst=$FS_IN_B port=$IPERF_PORT_FS pid_a=$FS_PID_A pid_b=$FS_PID_B
	else
		dst=$WG_IN_B port=$IPERF_PORT_WG pid_a=$WG_PID_A pid_b=$WG_PID_B
	fi
	args=(-c "$dst" -p "$port" -t "$SECONDS_PER_RUN" --json)
	case $test in
	tcp1) ;;
	tcp4) args+=(-P 4) ;;
	udp) args+=(-u -l "$UDP_LEN" -b "$UDP_RATE") ;;
	esac
	out=$bench_tmp/run-$round-$test-$kind.json
	err=$bench_tmp/run-$round-$test-$kind.err
	{ alive "$pid_a" && alive "$pid_b"; } || die "a $(impl_name "$kind") daemon died (logs in $bench_tmp)"
	settle
	t0a=$(cpu_ticks "$pid_a") t0b=$(cpu_ticks "$pid_b") k0=$(ksoftirqd_ticks)
	read -r _ u0 n0 s0 i0 w0 q0 sq0 st0 _ </proc/stat
	start=$(date +%s.%N)
	# In the background and waited for, so that a signal ends the run at once.
	timeout $((SECONDS_PER_RUN + 30)) ip netns exec "$NS_A" iperf3 "${args[@]}" >"$out" 2>"$err" &
	client=$!
	track "$client"
	wait "$client"
	rc=$?
	untrack "$client"
	end=$(date +%s.%N)
	t1a=$(cpu_ticks "$pid_a") t1b=$(cpu_ticks "$pid_b") k1=$(ksoftirqd_ticks)
	read -r _ u1 n1 s1 i1 w1 q1 sq1 st1 _ </proc/stat
	busy=$(((u1 + n1 + s1 + q1 + sq1 + st1) - (u0 + n0 + s0 + q0 + sq0 + st0)))
	total=$((busy + (i1 + w1) - (i0 + w0)))
	if ((rc != 0)) || ! jq -e '.end.sum_received' "$out" >/dev/null 2>&1; then
		say "bench: round $round $test $(impl_name "$kind"): iperf3 failed (exit $rc): $(jq -r '.error // empty' "$out" 2>/dev/null) $(head -c 300 "$err")"
		jq -nc --argjson round "$round" --arg test "$test" --arg impl "$kind" \
			'{round: $round, test: $test, impl: $impl, ok: false}' >>"$RUNS"
		restart_iperf_server "$kind"
		return 1
	fi
	jq -c --argjson round "$round" --arg test "$test" --arg impl "$kind" \
		--argjson cpu_a "$((t1a - t0a))" --argjson cpu_b "$((t1b - t0b))" --argjson cpu_k "$((k1 - k0))" \
		--argjson busy "$busy" --argjson total "$total" --argjson ncpu "$(nproc)" \
		--argjson background "$BACKGROUND" --argjson waited "$WAITED" \
		--argjson hz "$CLK_TCK" --argjson wall "$(awk -v s="$start" -v e="$end" 'BEGIN { print e - s }')" \
		'{round: $round, test: $test, impl: $impl, ok: true,
		  seconds: .end.sum_received.seconds,
		  mbps: (.end.sum_received.bits_per_second / 1e6),
		  sent_mbps: (.end.sum_sent.bits_per_second / 1e6),
		  daemon_cpu_pct_a: ($cpu_a / $hz / $wall * 100),
		  daemon_cpu_pct_b: ($cpu_b / $hz / $wall * 100),
		  ksoftirqd_cpu_pct: ($cpu_k / $hz / $wall * 100),
		  host_busy_pct: (if $total > 0 then $busy / $total * 100 else null end),
		  background_busy_pct_before: $background, quiet_wait_s: $waited,
		  iperf_cpu: .end.cpu_utilization_percent}
		 + (if $test == "udp" then
		      {rx_pps: ((.end.sum_received.packets - .end.sum_received.lost_packets) / .end.sum_received.seconds),
		       tx_pps: (.end.sum_sent.packets / .end.sum_sent.seconds),
		       loss_pct: .end.sum_received.lost_percent}
		    else
		      {retransmits: .end.sum_sent.retransmits}
		    end)
		 | .unattributed_cpu_pct = (if .host_busy_pct == null then null else
			([0, .host_busy_pct * $ncpu - .daemon_cpu_pct_a - .daemon_cpu_pct_b - .ksoftirqd_cpu_pct
			  - (.iperf_cpu.host_total // 0) - (.iperf_cpu.remote_total // 0)] | max) end)' "$out" >>"$RUNS"
	tail -n 1 "$RUNS" | jq -r '"  round \(.round) \(.test) \(.impl | if . == "fs" then "flowspread  " else "wireguard-go" end): " +
		(if .test == "udp" then "\(.rx_pps | floor) pps received, \(.tx_pps | floor) sent, loss \(.loss_pct * 10 | round / 10)%"
		 else "\(.mbps | round) Mbit/s, \(.retransmits) retransmits" end) +
		", daemon CPU A \(.daemon_cpu_pct_a | round)% B \(.daemon_cpu_pct_b | round)%, ksoftirqd \(.ksoftirqd_cpu_pct | round)%, other \(.unattributed_cpu_pct | round)%, machine busy \(.host_busy_pct | round)% (\(.background_busy_pct_before)% before the run)"' >&2
	return 0
}

rss_json()
{
	jq -n --argjson fa "$(vmrss "$FS_PID_A")" --argjson fb "$(vmrss "$FS_PID_B")" \
		--argjson wa "$(vmrss "$WG_PID_A")" --argjson wb "$(vmrss "$WG_PID_B")" \
		--argjson fha "$(vmhwm "$FS_PID_A")" --argjson fhb "$(vmhwm "$FS_PID_B")" \
		--argjson wha "$(vmhwm "$WG_PID_A")" --argjson whb "$(vmhwm "$WG_PID_B")" \
		--argjson fta "$(nthreads "$FS_PID_A")" --argjson wta "$(nthreads "$WG_PID_A")" \
		'{fs: {a: $fa, b: $fb, hwm_a: $fha, hwm_b: $fhb, threads_a: $fta},
		  wg: {a: $wa, b: $wb, hwm_a: $wha, hwm_b: $whb, threads_a: $wta}}'
}

# ---- the run -----------------------------------------------------------------------

say "bench: flowspreadd $FLOWSPREADD vs wireguard-go: ${#TEST_LIST[@]} tests x $ROUNDS rounds x 2 implementations x ${SECONDS_PER_RUN}s"
MACHINE=$(machine_json)
[[ $(jq -r .versions.flowspreadd_older_than_sources <<<"$MACHINE") == true ]] &&
	say "bench: WARNING: $FLOWSPREADD is older than files in src/ or include/: rebuild it, or the recorded version is wrong"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
OTHER_NETNS=$(ip netns list 2>/dev/null | grep -cv "^fsbench$BENCH_PID-")
setup_topology
start_iperf_servers
sleep 1
RSS_IDLE=$(rss_json)
say "bench: topology up (IPv$FAMILY, MTU $TUNNEL_MTU, spreading $BENCH_SPREAD); idle RSS measured"

began=$(date +%s)
failures=0
for ((round = 1; round <= ROUNDS; round++)); do
	for test in "${TEST_LIST[@]}"; do
		for kind in fs wg; do
			run_one "$round" "$test" "$kind" || ((failures++))
		done
	done
done
sleep 1
RSS_AFTER=$(rss_json)
elapsed=$(($(date +%s) - began))

# ---- medians, ratios, the report --------------------------------------------------

jq -s --argjson m "$MACHINE" --argjson idle "$RSS_IDLE" --argjson after "$RSS_AFTER" \
	--arg date "$STAMP" --arg cmd "$0${ORIG_ARGS:+ $ORIG_ARGS}" --argjson rounds "$ROUNDS" \
	--argjson secs "$SECONDS_PER_RUN" --argjson udp_len "$UDP_LEN" --arg udp_rate "$UDP_RATE" \
	--arg workers "${FS_WORKERS:-default (one per CPU)}" --argjson family "$FAMILY" --arg spread "$BENCH_SPREAD" \
	--argjson mtu "$TUNNEL_MTU" --argjson elapsed "$elapsed" \
	--arg load_before "$LOAD_BEFORE" --arg load_after "$(cut -d' ' -f1-3 /proc/loadavg)" \
	--argjson other_netns "$OTHER_NETNS" \
	--argjson quiet_below "$QUIET_BELOW" --argjson quiet_wait "$QUIET_WAIT" --argjson tests "$(printf '%s\n' "${TEST_LIST[@]}" | jq -R . | jq -s .)" '
	def median: sort | if length == 0 then null
		elif length % 2 == 1 then .[length / 2 | floor]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	def med(impl; test; key): [.[] | select(.ok and .impl == impl and .test == test) | .[key]] | median;
	def ratio(a; b): if a == null or b == null or b == 0 then null else a / b end;
	. as $runs |
	def summary(impl; t):
		(if t == "udp" then
			{rx_pps: med(impl; t; "rx_pps"), loss_pct: med(impl; t; "loss_pct"), tx_pps: med(impl; t; "tx_pps")}
		 else {mbps: med(impl; t; "mbps"), retransmits: med(impl; t; "retransmits")} end)
		+ {daemon_cpu_pct_a: med(impl; t; "daemon_cpu_pct_a"), daemon_cpu_pct_b: med(impl; t; "daemon_cpu_pct_b"),
		   host_busy_pct: med(impl; t; "host_busy_pct"),
		   background_busy_pct_before: med(impl; t; "background_busy_pct_before"),
		   ksoftirqd_cpu_pct: med(impl; t; "ksoftirqd_cpu_pct"),
		   unattributed_cpu_pct: med(impl; t; "unattributed_cpu_pct"),
		   ok_runs: ([.[] | select(.ok and .impl == impl and .test == t)] | length)};
	. as $runs |
	($tests | map(. as $t | {($t): {fs: ($runs | summary("fs"; $t)), wg: ($runs | summary("wg"; $t))}}) | add) as $med |
	($med | with_entries(.value = (if .key == "udp" then ratio(.value.fs.rx_pps; .value.wg.rx_pps)
				       else ratio(.value.fs.mbps; .value.wg.mbps) end))) as $ratio |
	($tests | map(. as $t |
		{($t): ([range(1; $rounds + 1) as $r |
			([$runs[] | select(.ok and .round == $r and .test == $t and .impl == "fs")][0]) as $f |
			([$runs[] | select(.ok and .round == $r and .test == $t and .impl == "wg")][0]) as $w |
			if $f == null or $w == null then empty
			elif $t == "udp" then ratio($f.rx_pps; $w.rx_pps) else ratio($f.mbps; $w.mbps) end]
			| map(select(. != null))
			| {min: min, median: median, max: max, per_round: .})}) | add) as $paired |
	{benchmark: "flowspread bench/throughput.sh", date: $date, command: $cmd} + $m +
	{config: {rounds: $rounds, seconds_per_run: $secs, tests: $tests, udp_len: $udp_len,
		  udp_rate: $udp_rate, flowspread_workers: $workers, ip_family: $family, flowspread_spread: $spread, tunnel_mtu: $mtu,
		  order: "each round: per test, flowspread then wireguard-go", elapsed_s: $elapsed},
	 host: {loadavg_before: $load_before, loadavg_after: $load_after,
		other_network_namespaces_at_start: $other_netns,
		quiet_below_pct: $quiet_below, quiet_wait_s: $quiet_wait,
		runs_started_busy: ([$runs[] | select(.ok and .background_busy_pct_before >= $quiet_below)] | length),
		note: "per run: host_busy_pct = all CPUs busy during the run (100 = every core), background_busy_pct_before = the same over the second before it, ksoftirqd_cpu_pct = the kernel softirq threads (packet processing deferred out of our processes), unattributed_cpu_pct = machine CPU (in % of one core) used by none of the four daemons, iperf3 and ksoftirqd: other processes on the host"},
	 medians: $med, ratio_flowspread_over_wireguard_go: $ratio,
	 paired_ratios: $paired,
	 paired_ratios_note: "flowspread / wireguard-go within each round (the two runs back to back)",
	 rss_kib: {idle: $idle, after_load: $after},
	 goal: (if $med.tcp1 then
		{statement: "single-stream TCP: flowspread >= 3x wireguard-go and > 1000 Mbit/s",
		 tcp1_ratio: $ratio.tcp1, tcp1_mbps: $med.tcp1.fs.mbps,
		 tcp1_paired_ratio_min: $paired.tcp1.min, tcp1_paired_ratio_median: $paired.tcp1.median,
		 met: ($ratio.tcp1 != null and $ratio.tcp1 >= 3 and $med.tcp1.fs.mbps > 1000)}
		else null end),
	 runs: $runs}' "$RUNS" >"$JSON" || die "cannot write $JSON"
chmod 0644 "$JSON"

jq -r '
	def r(x; n): if x == null then "n/a" else (x * n | round) / n | tostring end;
	"",
	"flowspread \(.versions.flowspread_git_describe) vs \(.versions.wireguard_go) (Debian \(.versions.wireguard_go_debian))",
	"machine: \(.machine.nproc) CPUs, \(.machine.cpu_model) (family \(.machine.cpu_family) model \(.machine.cpu_model_number), \(.machine.cpu_mhz) MHz), \(.machine.mem_total_mib) MiB RAM, kernel \(.machine.kernel), \(.machine.os)\(if .machine.hypervisor then ", virtual machine (\(.machine.hypervisor_vendor))" else "" end)",
	"host: load average \(.host.loadavg_before) before, \(.host.loadavg_after) after; \(.host.other_network_namespaces_at_start) other network namespaces at start; \(.host.runs_started_busy) of \(.runs | length) runs started with the machine >= \(.host.quiet_below_pct)% busy",
	"config: \(.config.rounds) rounds x \(.config.seconds_per_run)s, IPv\(.config.ip_family), spreading: \(.config.flowspread_spread), MTU \(.config.tunnel_mtu), flowspread workers: \(.config.flowspread_workers), \(.config.elapsed_s)s of runs",
	"",
	"medians                     flowspread   wireguard-go   ratio fs/wg-go   per-round ratios min / median / max",
	(.medians as $m | .ratio_flowspread_over_wireguard_go as $q | .paired_ratios as $p |
	 (if $m.tcp1 then "TCP 1 stream (Mbit/s)     \(r($m.tcp1.fs.mbps; 1) | (" " * (12 - length)) + .)   \(r($m.tcp1.wg.mbps; 1) | (" " * (12 - length)) + .)   \(r($q.tcp1; 100) | . + " " * (17 - length))\(r($p.tcp1.min; 100)) / \(r($p.tcp1.median; 100)) / \(r($p.tcp1.max; 100))" else empty end),
	 (if $m.tcp4 then "TCP 4 streams (Mbit/s)    \(r($m.tcp4.fs.mbps; 1) | (" " * (12 - length)) + .)   \(r($m.tcp4.wg.mbps; 1) | (" " * (12 - length)) + .)   \(r($q.tcp4; 100) | . + " " * (17 - length))\(r($p.tcp4.min; 100)) / \(r($p.tcp4.median; 100)) / \(r($p.tcp4.max; 100))" else empty end),
	 (if $m.udp then "UDP \(.config.udp_len)B received (pps)   \(r($m.udp.fs.rx_pps; 1) | (" " * (12 - length)) + .)   \(r($m.udp.wg.rx_pps; 1) | (" " * (12 - length)) + .)   \(r($q.udp; 100) | . + " " * (17 - length))\(r($p.udp.min; 100)) / \(r($p.udp.median; 100)) / \(r($p.udp.max; 100))",
	                 "UDP \(.config.udp_len)B loss (%)         \(r($m.udp.fs.loss_pct; 10) | (" " * (12 - length)) + .)   \(r($m.udp.wg.loss_pct; 10) | (" " * (12 - length)) + .)" else empty end)),
	"",
	"CPU, medians, % of one core   daemons A / B (fs)   (wg-go)     ksoftirqd (fs)  (wg-go)   other* (fs)  (wg-go)",
	(.medians | to_entries[] | "\(.key | (. + " " * (30 - length)))\(r(.value.fs.daemon_cpu_pct_a; 1)) / \(r(.value.fs.daemon_cpu_pct_b; 1) | . + " " * (12 - length))\(r(.value.wg.daemon_cpu_pct_a; 1)) / \(r(.value.wg.daemon_cpu_pct_b; 1) | . + " " * (12 - length))\(r(.value.fs.ksoftirqd_cpu_pct; 1) | . + " " * (16 - length))\(r(.value.wg.ksoftirqd_cpu_pct; 1) | . + " " * (10 - length))\(r(.value.fs.unattributed_cpu_pct; 1) | . + " " * (13 - length))\(r(.value.wg.unattributed_cpu_pct; 1))"),
	"A sends, B receives. * machine CPU used by none of the daemons, iperf3 and ksoftirqd: other processes on the host",
	"",
	"VmRSS (KiB)                  idle (A / B)       after load (A / B)   peak VmHWM (A / B)",
	"flowspreadd               \(.rss_kib.idle.fs.a) / \(.rss_kib.idle.fs.b)        \(.rss_kib.after_load.fs.a) / \(.rss_kib.after_load.fs.b)          \(.rss_kib.after_load.fs.hwm_a) / \(.rss_kib.after_load.fs.hwm_b)",
	"wireguard-go              \(.rss_kib.idle.wg.a) / \(.rss_kib.idle.wg.b)        \(.rss_kib.after_load.wg.a) / \(.rss_kib.after_load.wg.b)          \(.rss_kib.after_load.wg.hwm_a) / \(.rss_kib.after_load.wg.hwm_b)",
	"",
	(if .goal then "goal (\(.goal.statement)): \(if .goal.met then "MET" else "NOT MET" end) (ratio \(r(.goal.tcp1_ratio; 100)), \(r(.goal.tcp1_mbps; 1)) Mbit/s)" else empty end)
' "$JSON"
say ""
say "bench: results written to $JSON"
((failures == 0)) || { say "bench: $failures runs failed (see the JSON)"; exit 1; }
exit 0
