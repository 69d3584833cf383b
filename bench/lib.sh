# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# The benchmark topology, shared by bench/throughput.sh and bench/profile.sh.
#
# Two network namespaces A and B joined by one veth pair, and over it two
# tunnels side by side: a flowspreadd pair and a wireguard-go pair, each
# configured with the real `wg'. Both tunnels use the same namespaces, the
# same veth, the same MTU (1420) and the same log level; only the interface
# names, the UDP ports and the inner subnets differ:
#
#                 outer (veth)          inner, flowspread     inner, wireguard-go
#   IPv4   A  192.0.2.1/24          198.51.100.1/25       198.51.100.129/25
#          B  192.0.2.2/24          198.51.100.2/25       198.51.100.130/25
#   IPv6   A  2001:db8:f5::1/64     fd00:f5:1::1/64       fd00:f5:2::1/64
#          B  2001:db8:f5::2/64     fd00:f5:1::2/64       fd00:f5:2::2/64
#
# Traffic goes from A (client) to B (server): A's daemon encrypts (reads its
# TUN, sends UDP), B's daemon decrypts (receives UDP, writes its TUN); TCP
# acknowledgements take the other way.
#
# Everything created is named after our PID: namespaces fsbench$$-a/-b,
# interfaces fsb$$a/fsb$$b (flowspreadd) and wgb$$a/wgb$$b (wireguard-go),
# whose UAPI sockets live in /var/run/wireguard/. The EXIT trap ends the
# processes we started by their PID (never by name), then deletes the
# namespaces, the sockets and the scratch directory, also on failure.

BENCH_PID=$$
bench_pids=()
bench_namespaces=()
bench_sockets=()
bench_tmp=
BENCH_VERBOSE=${BENCH_VERBOSE:-0}
BENCH_FAMILY=${BENCH_FAMILY:-4}

NS_A=fsbench$BENCH_PID-a
NS_B=fsbench$BENCH_PID-b
FS_IF_A=fsb${BENCH_PID}a
FS_IF_B=fsb${BENCH_PID}b
WG_IF_A=wgb${BENCH_PID}a
WG_IF_B=wgb${BENCH_PID}b
FS_IF_A=${FS_IF_A:0:15}
FS_IF_B=${FS_IF_B:0:15}
WG_IF_A=${WG_IF_A:0:15}
WG_IF_B=${WG_IF_B:0:15}
FS_PORT_A=51001
FS_PORT_B=51002
WG_PORT_A=52001
WG_PORT_B=52002
IPERF_PORT_FS=5201
IPERF_PORT_WG=5202
TUNNEL_MTU=1420

say() { printf '%s\n' "$*" >&2; }
chat() { [[ $BENCH_VERBOSE == 1 ]] && printf '%s\n' "$*" >&2; return 0; }
die() { say "bench: error: $*"; exit 1; }

# set_family 4|6: the addresses of the topology above.
set_family()
{
	BENCH_FAMILY=$1
	if [[ $BENCH_FAMILY == 6 ]]; then
		OUTER_A=2001:db8:f5::1 OUTER_B=2001:db8:f5::2 OUTER_LEN=64
		FS_IN_A=fd00:f5:1::1 FS_IN_B=fd00:f5:1::2 FS_IN_LEN=64
		WG_IN_A=fd00:f5:2::1 WG_IN_B=fd00:f5:2::2 WG_IN_LEN=64
		FS_ALLOWED_A=fd00:f5:1::1/128 FS_ALLOWED_B=fd00:f5:1::2/128
		WG_ALLOWED_A=fd00:f5:2::1/128 WG_ALLOWED_B=fd00:f5:2::2/128
		EP_A="[$OUTER_A]" EP_B="[$OUTER_B]"
	else
		OUTER_A=192.0.2.1 OUTER_B=192.0.2.2 OUTER_LEN=24
		FS_IN_A=198.51.100.1 FS_IN_B=198.51.100.2 FS_IN_LEN=25
		WG_IN_A=198.51.100.129 WG_IN_B=198.51.100.130 WG_IN_LEN=25
		FS_ALLOWED_A=198.51.100.1/32 FS_ALLOWED_B=198.51.100.2/32
		WG_ALLOWED_A=198.51.100.129/32 WG_ALLOWED_B=198.51.100.130/32
		EP_A=$OUTER_A EP_B=$OUTER_B
	fi
}

# "n NS CMD...": CMD in namespace NS.
n()
{
	local ns=$1
	shift
	chat "  [$ns] $*"
	ip netns exec "$ns" "$@"
}

alive()
{
	local stat

	read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

track() { bench_pids+=("$1"); }

# untrack PID: after we reaped it ourselves.
untrack()
{
	local i

	for i in "${!bench_pids[@]}"; do
		[[ ${bench_pids[$i]} == "$1" ]] && unset "bench_pids[$i]"
	done
	return 0
}

# stop_pid PID: SIGTERM, then SIGKILL after 3 s; only a PID we started.
stop_pid()
{
	local pid=$1 i

	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 30; i++)); do
		alive "$pid" || break
		sleep 0.1
	done
	alive "$pid" && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	untrack "$pid"
}

bench_cleanup()
{
	local rc=$? pid ns sock i
	local -a keys

	trap - EXIT INT TERM HUP
	# Last started, first stopped: the load generators, then the daemons.
	keys=("${!bench_pids[@]}")
	for ((i = ${#keys[@]} - 1; i >= 0; i--)); do
		pid=${bench_pids[${keys[$i]}]:-}
		[[ -n $pid ]] && stop_pid "$pid"
	done
	for ns in "${bench_namespaces[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	for sock in "${bench_sockets[@]}"; do
		rm -f "$sock"
	done
	[[ -n $bench_tmp && $BENCH_KEEP_TMP != 1 ]] && rm -rf "$bench_tmp"
	[[ $BENCH_KEEP_TMP == 1 && -n $bench_tmp ]] && say "bench: scratch directory kept: $bench_tmp"
	exit "$rc"
}

# bench_init: checks what we need, makes the scratch directory, sets the trap.
bench_init()
{
	local cmd

	[[ $(id -u) == 0 ]] || die "needs root (network namespaces, TUN devices)"
	for cmd in ip wg wireguard-go iperf3 ping "$@"; do
		command -v "$cmd" >/dev/null || die "\`$cmd' is not installed (Debian: apt-get install iperf3 wireguard-go wireguard-tools iproute2 iputils-ping)"
	done
	[[ -c /dev/net/tun ]] || die "/dev/net/tun is missing"
	[[ -x $FLOWSPREADD ]] || die "$FLOWSPREADD is not there: build it first (see docs/benchmarks.md)"
	if ldd "$FLOWSPREADD" 2>/dev/null | grep -qE 'libasan|libubsan'; then
		[[ ${BENCH_ALLOW_SANITIZERS:-0} == 1 ]] ||
			die "$FLOWSPREADD is built with sanitizers: rebuild without --enable-sanitizers for a benchmark (or set BENCH_ALLOW_SANITIZERS=1)"
	fi
	umask 077
	BENCH_KEEP_TMP=${BENCH_KEEP_TMP:-0}
	bench_tmp=$(mktemp -d "${TMPDIR:-/tmp}/flowspread-bench.XXXXXX") || die "mktemp -d failed"
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM HUP
}

wait_for_socket()
{
	local sock=$1 pid=$2 log=$3 i

	for ((i = 0; i < 50; i++)); do
		[[ -S $sock ]] && return 0
		alive "$pid" || break
		sleep 0.1
	done
	cat "$log" >&2
	die "no UAPI socket $sock"
}

# start_daemon KIND NS IFNAME: KIND is fs or wg. Sets REPLY to the PID.
# "ip netns exec" execs, so $! is the daemon itself (both run in the
# foreground, in the background of this shell).
start_daemon()
{
	local kind=$1 ns=$2 ifname=$3 sock=/var/run/wireguard/$3.sock log=$bench_tmp/$3.log
	local -a cmd

	if [[ $kind == fs ]]; then
		cmd=("$FLOWSPREADD" -f)
		[[ -n ${FS_WORKERS:-} ]] && cmd+=(--workers "$FS_WORKERS")
	else
		cmd=(wireguard-go -f)
	fi
	bench_sockets+=("$sock")
	chat "  [$ns] ${cmd[*]} $ifname &"
	LOG_LEVEL=${BENCH_LOG_LEVEL:-error} WG_PROCESS_FOREGROUND=1 \
		ip netns exec "$ns" "${cmd[@]}" "$ifname" >"$log" 2>&1 &
	REPLY=$!
	track "$REPLY"
	wait_for_socket "$sock" "$REPLY" "$log"
}

# tunnel_keys DIR: the keys of a tunnel's two ends, made in DIR (created):
# a.key and b.key, their public keys in a.pub and b.pub.
tunnel_keys()
{
	mkdir -p "$1"
	wg genkey >"$1/a.key"
	wg genkey >"$1/b.key"
	wg pubkey <"$1/a.key" >"$1/a.pub"
	wg pubkey <"$1/b.key" >"$1/b.pub"
}

# configure_tunnel KIND: both ends of one tunnel, keys, addresses, up.
configure_tunnel()
{
	local kind=$1 if_a if_b port_a port_b in_a in_b len allowed_a allowed_b
	local d=$bench_tmp/$kind

	if [[ $kind == fs ]]; then
		if_a=$FS_IF_A if_b=$FS_IF_B port_a=$FS_PORT_A port_b=$FS_PORT_B
		in_a=$FS_IN_A in_b=$FS_IN_B len=$FS_IN_LEN allowed_a=$FS_ALLOWED_A allowed_b=$FS_ALLOWED_B
	else
		if_a=$WG_IF_A if_b=$WG_IF_B port_a=$WG_PORT_A port_b=$WG_PORT_B
		in_a=$WG_IN_A in_b=$WG_IN_B len=$WG_IN_LEN allowed_a=$WG_ALLOWED_A allowed_b=$WG_ALLOWED_B
	fi
	tunnel_keys "$d"
	n "$NS_A" wg set "$if_a" private-key "$d/a.key" listen-port "$port_a" \
		peer "$(cat "$d/b.pub")" allowed-ips "$allowed_b" endpoint "$EP_B:$port_b" ||
		die "wg set $if_a failed"
	n "$NS_B" wg set "$if_b" private-key "$d/b.key" listen-port "$port_b" \
		peer "$(cat "$d/a.pub")" allowed-ips "$allowed_a" endpoint "$EP_A:$port_a" ||
		die "wg set $if_b failed"
	[[ $kind == fs ]] && spread_tunnel "$d"
	n "$NS_A" ip link set "$if_a" mtu "$TUNNEL_MTU" up
	n "$NS_B" ip link set "$if_b" mtu "$TUNNEL_MTU" up
	if [[ $BENCH_FAMILY == 6 ]]; then
		n "$NS_A" ip -6 addr add "$in_a/$len" dev "$if_a" nodad
		n "$NS_B" ip -6 addr add "$in_b/$len" dev "$if_b" nodad
	else
		n "$NS_A" ip addr add "$in_a/$len" dev "$if_a"
		n "$NS_B" ip addr add "$in_b/$len" dev "$if_b"
	fi
}

# spread_tunnel DIR: BENCH_SPREAD (off, addresses, ports, both) on both ends
# of the flowspread tunnel, each end also configured with the other's
# prefix and ports (destination spreading, mirrored pairs). Addresses need
# IPv6 outer: A spreads over 2001:db8:f6a::/64, B over 2001:db8:f6b::/64,
# each routed to its host over the veth; ports use 40000-40063 at both.
spread_tunnel()
{
	local d=$1 ctl=${FLOWSPREADCTL:-$(dirname "$FLOWSPREADD")/flowspreadctl}
	local -a a_dev=() b_dev=() a_peer=() b_peer=()

	[[ ${BENCH_SPREAD:-off} == off ]] && return 0
	[[ -x $ctl ]] || die "spreading needs flowspreadctl next to the daemon (or FLOWSPREADCTL)"
	a_dev=(spread-mode "$BENCH_SPREAD" spread-pairs 1024)
	b_dev=(spread-mode "$BENCH_SPREAD" spread-pairs 1024)
	if [[ $BENCH_SPREAD == addresses || $BENCH_SPREAD == both ]]; then
		[[ $BENCH_FAMILY == 6 ]] || die "--spread $BENCH_SPREAD needs --ipv6"
		ip -n "$NS_A" -6 route add 2001:db8:f6b::/64 via "$OUTER_B" || die "route to B's prefix"
		ip -n "$NS_B" -6 route add 2001:db8:f6a::/64 via "$OUTER_A" || die "route to A's prefix"
		a_dev+=(spread-prefix 2001:db8:f6a::/64) b_dev+=(spread-prefix 2001:db8:f6b::/64)
		a_peer+=(spread-prefix 2001:db8:f6b::/64) b_peer+=(spread-prefix 2001:db8:f6a::/64)
	fi
	if [[ $BENCH_SPREAD == ports || $BENCH_SPREAD == both ]]; then
		a_dev+=(spread-ports 40000-40063) b_dev+=(spread-ports 40000-40063)
		a_peer+=(spread-ports 40000-40063) b_peer+=(spread-ports 40000-40063)
	fi
	n "$NS_A" "$ctl" set "$FS_IF_A" "${a_dev[@]}" peer "$(cat "$d/b.pub")" "${a_peer[@]}" ||
		die "flowspreadctl set $FS_IF_A (spreading) failed"
	n "$NS_B" "$ctl" set "$FS_IF_B" "${b_dev[@]}" peer "$(cat "$d/a.pub")" "${b_peer[@]}" ||
		die "flowspreadctl set $FS_IF_B (spreading) failed"
}

# handshake KIND: pings through the tunnel until it answers (one handshake).
handshake()
{
	local kind=$1 dst i

	[[ $kind == fs ]] && dst=$FS_IN_B || dst=$WG_IN_B
	for ((i = 0; i < 20; i++)); do
		n "$NS_A" ping -c 1 -W 1 -q "$dst" >/dev/null 2>&1 && return 0
	done
	say "bench: no ping through the $kind tunnel; daemon logs:"
	cat "$bench_tmp"/*.log >&2
	die "the $kind tunnel does not pass traffic"
}

# bench_netns NS...: creates the network namespaces NS..., each with lo up;
# bench_cleanup deletes them.
bench_netns()
{
	local ns

	for ns in "$@"; do
		ip netns add "$ns" || die "cannot create network namespace $ns"
		bench_namespaces+=("$ns")
		ip -n "$ns" link set lo up
	done
}

# setup_topology: namespaces, veth, both tunnel pairs up with one handshake each.
# Sets FS_PID_A FS_PID_B WG_PID_A WG_PID_B.
# shellcheck disable=SC2034 # used by the scripts that source this file
setup_topology()
{
	bench_netns "$NS_A" "$NS_B"
	ip -n "$NS_A" link add veth0 type veth peer name veth0 netns "$NS_B" ||
		die "cannot create the veth pair"
	if [[ $BENCH_FAMILY == 6 ]]; then
		ip -n "$NS_A" -6 addr add "$OUTER_A/$OUTER_LEN" dev veth0 nodad
		ip -n "$NS_B" -6 addr add "$OUTER_B/$OUTER_LEN" dev veth0 nodad
	else
		ip -n "$NS_A" addr add "$OUTER_A/$OUTER_LEN" dev veth0
		ip -n "$NS_B" addr add "$OUTER_B/$OUTER_LEN" dev veth0
	fi
	ip -n "$NS_A" link set veth0 up
	ip -n "$NS_B" link set veth0 up

	start_daemon fs "$NS_A" "$FS_IF_A"; FS_PID_A=$REPLY
	start_daemon fs "$NS_B" "$FS_IF_B"; FS_PID_B=$REPLY
	start_daemon wg "$NS_A" "$WG_IF_A"; WG_PID_A=$REPLY
	start_daemon wg "$NS_B" "$WG_IF_B"; WG_PID_B=$REPLY
	configure_tunnel fs
	configure_tunnel wg
	handshake fs
	handshake wg
}

# start_iperf_servers: one iperf3 server per tunnel in B, bound to its inner
# address. Sets IPERF_PID_FS IPERF_PID_WG.
start_iperf_server()
{
	local kind=$1 addr port i

	if [[ $kind == fs ]]; then addr=$FS_IN_B port=$IPERF_PORT_FS; else addr=$WG_IN_B port=$IPERF_PORT_WG; fi
	# Not through n(): a backgrounded function is a subshell, and $! must be iperf3.
	chat "  [$NS_B] iperf3 -s -B $addr -p $port &"
	ip netns exec "$NS_B" iperf3 -s -B "$addr" -p "$port" >"$bench_tmp/iperf3-server-$kind.log" 2>&1 &
	REPLY=$!
	track "$REPLY"
	for ((i = 0; i < 50; i++)); do
		n "$NS_B" ss -Hltn "sport = :$port" 2>/dev/null | grep -q LISTEN && return 0
		sleep 0.1
	done
	die "iperf3 server for $kind did not start"
}

start_iperf_servers()
{
	start_iperf_server fs; IPERF_PID_FS=$REPLY
	start_iperf_server wg; IPERF_PID_WG=$REPLY
}

# restart_iperf_server KIND: after a failed test, so the next one starts clean.
restart_iperf_server()
{
	if [[ $1 == fs ]]; then
		stop_pid "$IPERF_PID_FS"; start_iperf_server fs; IPERF_PID_FS=$REPLY
	else
		stop_pid "$IPERF_PID_WG"; start_iperf_server wg; IPERF_PID_WG=$REPLY
	fi
}

# vmrss PID: resident set in KiB.
vmrss()
{
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

vmhwm()
{
	awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# cpu_ticks PID: utime + stime of the whole process, in clock ticks.
cpu_ticks()
{
	local stat

	read -r stat 2>/dev/null <"/proc/$1/stat" || { echo 0; return; }
	stat=${stat##*) }
	awk '{ print $12 + $13 }' <<<"$stat"
}

nthreads()
{
	awk '/^Threads:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# ---- one daemon alone in one namespace (bench/peers.sh, bench/handshake-wait.sh) ----

# bench_unsanitized BIN...: dies if a BIN is built with sanitizers, whose
# figures mean nothing (BENCH_ALLOW_SANITIZERS=1 lets it run, to try a bench).
bench_unsanitized()
{
	local bin

	for bin in "$@"; do
		if nm "$bin" 2>/dev/null | grep -q __asan_init && [[ ${BENCH_ALLOW_SANITIZERS:-0} != 1 ]]; then
			die "$bin is built with sanitizers: rebuild without --enable-sanitizers (or set BENCH_ALLOW_SANITIZERS=1)"
		fi
	done
}

# solo_start IMPL BIN NS IFNAME LOG LEVEL: flowspreadd (IMPL fs) or
# wireguard-go BIN in the foreground in NS, at log level LEVEL, its output
# in LOG; its PID in $REPLY once its UAPI socket is there (10 s at most).
solo_start()
{
	local impl=$1 bin=$2 ns=$3 ifname=$4 log=$5 level=$6 sock=/var/run/wireguard/$4.sock i

	if [[ $impl == fs ]]; then
		LOG_LEVEL=$level ip netns exec "$ns" "$bin" -f "$ifname" >"$log" 2>&1 &
	else
		WG_PROCESS_FOREGROUND=1 LOG_LEVEL=$level ip netns exec "$ns" "$bin" -f "$ifname" >"$log" 2>&1 &
	fi
	REPLY=$!
	for ((i = 0; i < 100; i++)); do
		[[ -S $sock ]] && return 0
		sleep 0.1
	done
	die "$bin did not create $sock: $(cat "$log")"
}

# solo_stop PID IFNAME: ends the daemon of solo_start, removes its socket.
solo_stop()
{
	kill -TERM "$1"
	wait "$1" 2>/dev/null
	rm -f "/var/run/wireguard/$2.sock"
}

# peers_request N FILE [HEADER]: in FILE, a set request: HEADER ('\n' for
# line ends) then N peers with random public keys, one allowed IP each
# (fd00:HI:LO::/64).
peers_request()
{
	python3 - "$1" "$2" "${3:-}" <<-'PY'
	import os, sys
	n, path, header = int(sys.argv[1]), sys.argv[2], sys.argv[3]
	with open(path, 'w') as f:
	    f.write('set=1\n' + header.replace('\\n', '\n'))
	    for i in range(n):
	        f.write('public_key=%s\nallowed_ip=fd00:%x:%x::/64\n'
	                % (os.urandom(32).hex(), i >> 16, i & 0xffff))
	    f.write('\n')
	PY
}
