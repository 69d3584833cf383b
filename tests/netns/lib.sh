# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# Helpers for the network-namespace tests; source it from a test script.
#
# Everything a test creates is named after its PID, so tests run in
# parallel and never touch the host's interfaces: namespaces fsns$$-NAME,
# wireguard-go interfaces wgfs$$ (UAPI sockets share /var/run/wireguard/).
# An EXIT trap ends our wireguard-go processes by PID, deletes our
# namespaces and the scratch directory, also when a test fails.
#
# Exit status, as automake counts it: 0 pass, 1 fail, 77 skip. With
# FLOWSPREAD_REQUIRE_NETNS=1 (CI on a host known to be able), a missing
# requirement fails instead of skipping.
#
# FS_VERBOSE=1 prints every command and wireguard-go's log.

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
WG_PROBE=$top_builddir/tests/netns/wg-probe
FS_VERBOSE=${FS_VERBOSE:-0}

fs_namespaces=()
fs_pids=()
fs_interfaces=()
fs_tmp=

say() { printf '%s\n' "$*"; }
chat() { [[ $FS_VERBOSE == 1 ]] && printf '%s\n' "$*"; return 0; }

fail()
{
	say "FAIL: $*" >&2
	exit 1
}

skip()
{
	if [[ ${FLOWSPREAD_REQUIRE_NETNS:-0} == 1 ]]; then
		say "FAIL: $* (FLOWSPREAD_REQUIRE_NETNS=1 makes this a failure, not a skip)" >&2
		exit 1
	fi
	say "SKIP: $*" >&2
	exit 77
}

# "n NS CMD..." runs CMD in namespace NS, showing it when verbose.
n()
{
	local ns=$1
	shift
	chat "  [$ns] $*"
	ip netns exec "$ns" "$@"
}

require_netns()
{
	local cmd

	[[ $(id -u) == 0 ]] || skip "needs root (network namespaces, TUN)"
	for cmd in ip wg wireguard-go ping; do
		command -v "$cmd" >/dev/null || skip "\`$cmd' is not installed"
	done
	[[ -c /dev/net/tun ]] || skip "/dev/net/tun is missing"
	[[ -x $WG_PROBE ]] || fail "$WG_PROBE is missing: run \`make tests/netns/wg-probe' first"
	umask 077	# keys
	fs_tmp=$(mktemp -d "${TMPDIR:-/tmp}/flowspread-netns.XXXXXX") || fail "mktemp -d failed"
	trap cleanup EXIT
	trap 'exit 1' INT TERM HUP
}

# ns_create NAME: a namespace fsns$$-NAME with lo up; its name in $REPLY.
ns_create()
{
	REPLY=fsns$$-$1
	ip netns add "$REPLY" 2>"$fs_tmp/netns.err" ||
		skip "cannot create a network namespace: $(cat "$fs_tmp/netns.err")"
	fs_namespaces+=("$REPLY")
	ip -n "$REPLY" link set lo up
}

# veth_pair NS1 NS2: veth0 in each, joined; created inside NS1, so the host
# namespace never sees them.
veth_pair()
{
	ip -n "$1" link add veth0 type veth peer name veth0 netns "$2" ||
		fail "cannot create a veth pair between $1 and $2"
	ip -n "$1" link set veth0 up
	ip -n "$2" link set veth0 up
}

# alive PID: true while PID runs (a zombie, not yet reaped, does not count).
alive()
{
	local stat

	read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

# track PID: ends PID (by its number, nothing else) on exit unless it was
# reaped with "reap PID" first.
track() { fs_pids+=("$1"); }

# reap PID: waits for a tracked PID and returns its exit status.
reap()
{
	local pid=$1 rc i

	wait "$pid"
	rc=$?
	for i in "${!fs_pids[@]}"; do
		[[ ${fs_pids[$i]} == "$pid" ]] && unset "fs_pids[$i]"
	done
	return "$rc"
}

# wg_ifname: a fresh interface name, unique on this host (15 chars at most).
wg_ifname()
{
	REPLY=wgfs$$${#fs_interfaces[@]}
	REPLY=${REPLY:0:15}
	fs_interfaces+=("$REPLY")
}

# wireguard_go_start NS IFNAME: runs wireguard-go in the foreground, in the
# background, logging verbosely to $fs_tmp/IFNAME.log, and waits for its
# UAPI socket. "ip netns exec" execs, so $! is wireguard-go itself.
# WG_PROCESS_FOREGROUND=1 also silences its banner, which claims this kernel
# has WireGuard whether or not it does.
wireguard_go_start()
{
	local ns=$1 ifname=$2 sock=/var/run/wireguard/$2.sock i

	chat "  [$ns] wireguard-go -f $ifname &"
	LOG_LEVEL=verbose WG_PROCESS_FOREGROUND=1 ip netns exec "$ns" wireguard-go -f "$ifname" \
		>"$fs_tmp/$ifname.log" 2>&1 &
	track $!
	for ((i = 0; i < 50; i++)); do
		[[ -S $sock ]] && return 0
		alive $! || break
		sleep 0.1
	done
	cat "$fs_tmp/$ifname.log" >&2
	fail "wireguard-go did not create $sock"
}

# wireguard_go_log IFNAME [brief]: prints wireguard-go's log, indented,
# without the lines a flood of junk initiations causes (only counted);
# "brief" keeps only what a peer did.
wireguard_go_log()
{
	local junk='Sending cookie response|Received invalid initiation|Failed to'
	local keep='.' omitted

	[[ ${2:-} == brief ]] && keep=' - (Received|Sending|Retrying|Handshake|Keypair)'
	say "--- wireguard-go $1 log${2:+ ($2)}:"
	grep -Ev "$junk" "$fs_tmp/$1.log" | grep -E "$keep" | sed 's/^/  /'
	omitted=$(grep -Ec "$junk" "$fs_tmp/$1.log")
	[[ $omitted == 0 ]] || say "  ($omitted lines about junk initiations and cookie replies omitted)"
}

# wg_show_field NS IFNAME FIELD PUB: the peer PUB's value in "wg show IFNAME FIELD".
wg_show_field()
{
	local ns=$1 ifname=$2 field=$3 pub=$4

	ip netns exec "$ns" wg show "$ifname" "$field" |
		awk -v k="$pub" '$1 == k { $1 = ""; print substr($0, 2) }'
}

cleanup()
{
	local rc=$? pid i ns ifname

	for pid in "${fs_pids[@]}"; do
		# Not yet reaped, so the PID is still ours even if it exited.
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < 20; i++)); do
			alive "$pid" || break
			sleep 0.1
		done
		alive "$pid" && kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	for ns in "${fs_namespaces[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	for ifname in "${fs_interfaces[@]}"; do
		rm -f "/var/run/wireguard/$ifname.sock"
	done
	[[ -n $fs_tmp ]] && rm -rf "$fs_tmp"
	exit "$rc"
}
