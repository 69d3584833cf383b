#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Where the CPU goes while a tunnel carries an iperf3 load.
#
# Sets up the topology of bench/lib.sh, starts one iperf3 test through the
# chosen tunnel (flowspread by default: single-stream TCP, A -> B), and
# while it runs measures, in this order:
#
#   1. per-thread CPU of both daemons (/proc/PID/task/*/stat)
#   2. per daemon: system calls, io_uring requests and completions,
#      io-wq punts, context switches (perf stat, tracepoints), divided by
#      the packets its TUN device passed in the same interval
#   3. a system-wide profile (perf record -a -g, cpu-clock: this machine's
#      virtual CPUs have no hardware counters), reported by process, by
#      library, by symbol and inclusive ("children") for the daemons
#
# Without perf only step 1 runs. libsodium ships without symbols on Debian:
# its samples are reported as one library. Needs root. Not a test.

set -uo pipefail

usage()
{
	cat <<EOF
Usage: $0 [OPTION]...
  --impl fs|wg        profile flowspreadd (default) or wireguard-go
  --test tcp1|tcp4|udp  the load (default tcp1)
  --time SECONDS      length of the iperf3 run (default 25)
  --record SECONDS    length of the perf record window (default 8)
  --workers N         flowspreadd --workers N
  --flowspreadd PATH  the daemon (default: \$FLOWSPREADD, ./flowspreadd, the source tree's)
  --out DIR           where to write the reports (default /tmp/flowspread-profile-DATE)
  --verbose           show every command
EOF
}

bench_dir=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "$bench_dir/.." && pwd)
IMPL=fs
TEST=tcp1
RUN_TIME=25
RECORD_TIME=8
OUT=
FS_WORKERS=
FLOWSPREADD=${FLOWSPREADD:-}

while (($#)); do
	case $1 in
	--impl) IMPL=$2; shift ;;
	--test) TEST=$2; shift ;;
	--time) RUN_TIME=$2; shift ;;
	--record) RECORD_TIME=$2; shift ;;
	--workers) FS_WORKERS=$2; shift ;;
	--flowspreadd) FLOWSPREADD=$2; shift ;;
	--out) OUT=$2; shift ;;
	--verbose) BENCH_VERBOSE=1 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done
[[ $IMPL == fs || $IMPL == wg ]] || { usage >&2; exit 2; }
[[ $TEST == tcp1 || $TEST == tcp4 || $TEST == udp ]] || { usage >&2; exit 2; }
((RUN_TIME >= RECORD_TIME + 14)) || { echo "--time must be at least --record + 14 seconds" >&2; exit 2; }
if [[ -z $FLOWSPREADD ]]; then
	if [[ -x ./flowspreadd ]]; then FLOWSPREADD=$PWD/flowspreadd; else FLOWSPREADD=$top_srcdir/flowspreadd; fi
fi
[[ -n $OUT ]] || OUT=/tmp/flowspread-profile-$(date -u +%Y%m%dT%H%M%SZ)
export FS_WORKERS BENCH_VERBOSE

# shellcheck source=bench/lib.sh
. "$bench_dir/lib.sh"

bench_init awk
set_family 4
mkdir -p "$OUT" || die "cannot create $OUT"
have_perf=0
if command -v perf >/dev/null && perf record -q -e cpu-clock -o "$bench_tmp/probe.data" -- true >/dev/null 2>&1; then
	have_perf=1
else
	say "bench: perf is missing or cannot record here: per-thread CPU only (Debian: apt-get install linux-perf)"
fi

setup_topology
if [[ $IMPL == fs ]]; then
	PID_A=$FS_PID_A PID_B=$FS_PID_B IF_A=$FS_IF_A IF_B=$FS_IF_B DST=$FS_IN_B PORT=$IPERF_PORT_FS
	start_iperf_server fs
else
	PID_A=$WG_PID_A PID_B=$WG_PID_B IF_A=$WG_IF_A IF_B=$WG_IF_B DST=$WG_IN_B PORT=$IPERF_PORT_WG
	start_iperf_server wg
fi
NAME=$([[ $IMPL == fs ]] && echo flowspreadd || echo wireguard-go)

# thread_ticks PID: "TID COMM TICKS" per thread.
thread_ticks()
{
	local t stat comm

	for t in /proc/"$1"/task/*; do
		read -r stat 2>/dev/null <"$t/stat" || continue
		comm=${stat#*(}; comm=${comm%%)*}
		stat=${stat##*) }
		awk -v tid="${t##*/}" -v comm="${comm// /_}" '{ print tid, comm, $12 + $13 }' <<<"$stat"
	done
}

# tun_packets NS IFNAME: "RX TX" packets of the TUN device (RX: written by
# the daemon, decrypted; TX: read by the daemon, to encrypt).
tun_packets()
{
	# shellcheck disable=SC2016 # awk's fields
	ip netns exec "$1" awk -v ifn="$2:" '$1 == ifn { print $3, $11 }' /proc/net/dev
}

args=(-c "$DST" -p "$PORT" -t "$RUN_TIME")
case $TEST in
tcp4) args+=(-P 4) ;;
udp) args+=(-u -l 64 -b 0) ;;
esac
say "bench: profiling $NAME under iperf3 $TEST for ${RUN_TIME}s; reports in $OUT"
ip netns exec "$NS_A" iperf3 "${args[@]}" >"$OUT/iperf3.txt" 2>&1 &
CLIENT=$!
track "$CLIENT"
sleep 3

# 1. per-thread CPU over 4 seconds
{
	echo "# per-thread CPU of $NAME over 4 s, % of one core (A sends, B receives)"
	for side in A B; do
		pid=PID_$side; pid=${!pid}
		thread_ticks "$pid" >"$bench_tmp/t0-$side"
	done
	sleep 4
	hz=$(getconf CLK_TCK)
	for side in A B; do
		pid=PID_$side; pid=${!pid}
		thread_ticks "$pid" >"$bench_tmp/t1-$side"
		echo "## $side (pid $pid)"
		join "$bench_tmp/t0-$side" "$bench_tmp/t1-$side" |
			awk -v hz="$hz" '{ pct = ($5 - $3) / hz / 4 * 100; total += pct; if (pct >= 0.5) printf "  tid %-8s %-16s %5.1f%%\n", $1, $2, pct }
				END { printf "  total %29.1f%%\n", total }'
	done
} | tee "$OUT/threads.txt" >&2

if ((have_perf)); then
	# 2. system calls and io_uring operations per packet, both daemons at once
	events=raw_syscalls:sys_enter,context-switches,task-clock
	for ev in io_uring:io_uring_submit_req io_uring:io_uring_complete io_uring:io_uring_queue_async_work io_uring:io_uring_task_add; do
		for d in /sys/kernel/tracing /sys/kernel/debug/tracing; do
			[[ -d $d/events/${ev/://} ]] && { events+=,$ev; break; }
		done
	done
	declare -A ifname=([A]=$IF_A [B]=$IF_B) ns=([A]=$NS_A [B]=$NS_B) rx0 tx0 rx1 tx1
	for side in A B; do
		read -r "rx0[$side]" "tx0[$side]" < <(tun_packets "${ns[$side]}" "${ifname[$side]}")
	done
	perf stat -x, -e "$events" -p "$PID_A" -o "$bench_tmp/stat-A" -- sleep 4 &
	sa=$!
	perf stat -x, -e "$events" -p "$PID_B" -o "$bench_tmp/stat-B" -- sleep 4 &
	sb=$!
	wait "$sa" "$sb"
	for side in A B; do
		read -r "rx1[$side]" "tx1[$side]" < <(tun_packets "${ns[$side]}" "${ifname[$side]}")
	done
	{
		echo "# $NAME over 4 s under perf stat (tracepoints slow it down a little)"
		for side in A B; do
			from_tun=$((tx1[$side] - tx0[$side])) to_tun=$((rx1[$side] - rx0[$side]))
			pkts=$((from_tun + to_tun))
			echo "## $side: $from_tun packets read from the TUN (encrypted), $to_tun written to it (decrypted)"
			awk -F, -v p="$pkts" '/^[0-9]/ && $3 != "" {
				if ($3 == "task-clock") printf "  %-36s %12.0f ms  (%.2f CPUs)\n", $3, $1, $1 / 4000;
				else printf "  %-36s %12d  %8.3f per packet\n", $3, $1, (p ? $1 / p : 0) }' "$bench_tmp/stat-$side"
		done
	} | tee "$OUT/per-packet.txt" >&2

	# 3. the system-wide profile
	perf record -q -a -g -e cpu-clock -F 999 -o "$OUT/perf.data" -- sleep "$RECORD_TIME" 2>"$bench_tmp/record.err" ||
		{ cat "$bench_tmp/record.err" >&2; die "perf record failed"; }
fi
wait "$CLIENT"
grep -E 'sender|receiver' "$OUT/iperf3.txt" >&2

if ((have_perf)); then
	report() { perf report -i "$OUT/perf.data" --stdio -g none "$@" 2>/dev/null | grep -v '^#' | grep -v '^$'; }
	{
		echo "# system-wide CPU by process name (both cores = 100%)"
		report --no-children --sort comm | head -15
		echo
		echo "# $NAME by library (% of $NAME's samples)"
		report --no-children --comm "$NAME" --percentage relative --sort dso | head -12
		echo
		echo "# $NAME: top symbols, self time (% of $NAME's samples)"
		report --no-children --comm "$NAME" --percentage relative --sort dso,sym | head -40
		echo
		echo "# $NAME: inclusive time of the main paths (% of $NAME's samples; frame-pointer stacks, user frames partial)"
		report --children --comm "$NAME" --percentage relative --sort sym |
			grep -E ' (io_uring_enter|__do_sys_io_uring_enter|io_submit_sqes|io_sendmsg|udp_sendmsg|io_write|tun_chr_write_iter|tun_get_user|ksys_read|tun_chr_read_iter|io_recvmsg|udpv6_recvmsg|udp_recvmsg|io_cqring_wait|tctx_task_work|__netif_receive_skb_one_core|tcp_v4_rcv|handle_softirqs|veth_xmit|crypto_aead_chacha20poly1305_ietf_(en|de)crypt_detached|sendmsg|recvmsg|__sys_sendmsg|__sys_recvmsg|ksys_write|schedule|futex_wait|do_futex)$' | head -40
	} >"$OUT/report.txt"
	cat "$OUT/report.txt" >&2
fi
say "bench: reports in $OUT (perf.data: perf report -i $OUT/perf.data)"
