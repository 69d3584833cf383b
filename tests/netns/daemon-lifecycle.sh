#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# How flowspreadd starts and ends, in one namespace (no peer, no traffic):
#  - SIGTERM and SIGINT: exit status 0, the UAPI socket and the TUN removed;
#  - `ip link del': it exits and removes its socket; `rm' of the socket: it
#    exits and removes its TUN;
#  - daemon mode (no -f): the command returns 0 only once the socket exists,
#    the daemon is nobody's child of ours and no zombie is left, its stdio is
#    /dev/null and its directory /; it is stopped by its PID (read from `ss
#    -xlp') or by `ip link del';
#  - a stale socket file (nobody listening) is replaced;
#  - a second daemon for the same name fails with a clear message and leaves
#    the first one serving, its TUN and MTU untouched;
#  - a TUN passed in WG_TUN_FD (and a listening socket in WG_UAPI_FD) is used;
#  - bad command lines, FLOWSPREAD_WORKERS, WG_TUN_FD and
#    WG_UAPI_FD values exit nonzero naming the value, leaving nothing behind;
#  - SIGTERM, `ip link del' and `rm' of the socket as soon as the socket
#    appears, while the daemon may still be starting: the same clean exit
#    (status 0 within 5 s, nothing left, no flood of log lines).
#
#  +-----------------------------------------------------------+
#  | fsns$$-a                                                  |
#  |                                                           |
#  |  flowspreadd wgfs$$N, one after the other                 |
#  +-----------------------------------------------------------+
#  /var/run/wireguard/wgfs$$N.sock (shared by all namespaces)

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon python3 ss

ns_create a; a=$REPLY

sock() { echo "/var/run/wireguard/$1.sock"; }
has_link() { ip -n "$a" link show "$1" >/dev/null 2>&1; }

no_socket() { [[ ! -e $(sock "$1") ]]; }
no_link() { ! has_link "$1"; }

# left_nothing IFNAME: within 5 s, neither the socket nor the TUN remains.
left_nothing()
{
	until_true 5 no_socket "$1" || fail "$(sock "$1") is left behind"
	until_true 5 no_link "$1" || fail "the TUN $1 is left behind"
}

# serving IFNAME: the daemon answers `wg show' and its TUN exists.
serving()
{
	n "$a" wg show "$1" >/dev/null || fail "wg show $1 failed"
	has_link "$1" || fail "the TUN $1 does not exist"
}

# socket_owner IFNAME: the PID listening on IFNAME's socket, from `ss -xlp'
# in the namespace (that is where the socket was made).
socket_owner()
{
	ss -N "$a" -xlpH | awk -v path="$(sock "$1")" '$5 == path' |
		sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n 1
}

say "=== SIGTERM and SIGINT"
for sig in TERM INT; do
	wg_ifname; ifname=$REPLY
	flowspreadd_start "$a" "$ifname"
	serving "$ifname"
	daemon_stop "$ifname" "$sig" || fail "flowspreadd exited with status $? on SIG$sig, expected 0"
	left_nothing "$ifname"
	say "SIG$sig: exit status 0, $(sock "$ifname") and the TUN removed"
done

say "=== ip link del"
wg_ifname; ifname=$REPLY
flowspreadd_start "$a" "$ifname"
serving "$ifname"
ip -n "$a" link del "$ifname" || fail "ip link del $ifname failed"
daemon_wait "$ifname" || fail "flowspreadd exited with status $? after ip link del, expected 0"
left_nothing "$ifname"
grep -q 'interface was deleted' "$fs_tmp/$ifname.log" || fail "the log does not say why it stopped"
say "ip link del: flowspreadd exited with status 0 and removed its socket"

say "=== rm of the socket"
wg_ifname; ifname=$REPLY
flowspreadd_start "$a" "$ifname"
serving "$ifname"
rm "$(sock "$ifname")"
daemon_wait "$ifname" || fail "flowspreadd exited with status $? after rm of its socket, expected 0"
left_nothing "$ifname"
say "rm of the socket: flowspreadd exited with status 0 and removed its TUN"

say "=== daemon mode"
for stop in pid link; do
	wg_ifname; ifname=$REPLY
	LOG_LEVEL=verbose n "$a" "$FLOWSPREADD" "$ifname" >"$fs_tmp/daemon.out" 2>&1
	rc=$?
	[[ -S $(sock "$ifname") ]] ||
		fail "flowspreadd (daemon mode) returned ($rc) before $(sock "$ifname") existed: $(cat "$fs_tmp/daemon.out")"
	[[ $rc == 0 ]] || fail "flowspreadd (daemon mode) returned $rc: $(cat "$fs_tmp/daemon.out")"
	pid=$(socket_owner "$ifname")
	[[ -n $pid ]] || fail "ss -xlp shows nobody listening on $(sock "$ifname")"
	track "$pid"
	serving "$ifname"
	read -r ppid stat <<<"$(ps -o ppid=,stat= -p "$pid")"
	[[ $ppid != "$$" && $stat != Z* ]] || fail "the daemon $pid: parent $ppid, state $stat"
	zombies=$(ps -o pid=,stat= --ppid $$ | awk '$2 ~ /^Z/')
	[[ -z $zombies ]] || fail "zombie children left: $zombies"
	[[ $(readlink "/proc/$pid/fd/0") == /dev/null && $(readlink "/proc/$pid/fd/2") == /dev/null ]] ||
		fail "the daemon's stdin or stderr is not /dev/null"
	[[ $(readlink "/proc/$pid/cwd") == / ]] || fail "the daemon's directory is $(readlink "/proc/$pid/cwd"), not /"
	say "returned 0 with the socket there; daemon $pid, parent $ppid, no zombie, stdio /dev/null"
	if [[ $stop == pid ]]; then
		kill -TERM "$pid"
	else
		ip -n "$a" link del "$ifname" || fail "ip link del $ifname failed"
	fi
	until_true 10 exited "$pid" || fail "the daemon $pid still runs after stopping it by $stop"
	reap "$pid" 2>/dev/null
	left_nothing "$ifname"
	say "stopped by $stop: the daemon exited, leaving nothing"
done

say "=== a stale socket file is replaced"
wg_ifname; ifname=$REPLY
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$(sock "$ifname")" ||
	fail "cannot make a stale socket"
[[ -S $(sock "$ifname") ]] || fail "no stale socket was made"
flowspreadd_start "$a" "$ifname"	# returns at once: the stale socket is there
until_true 5 n "$a" wg show "$ifname" >/dev/null 2>&1 ||
	fail "flowspreadd does not answer on $(sock "$ifname") within 5 s"
serving "$ifname"
[[ $(socket_owner "$ifname") == "${fs_daemon_pid[$ifname]}" ]] ||
	fail "flowspreadd does not listen on $(sock "$ifname")"
say "flowspreadd listens on the socket a dead daemon left"

say "=== a second daemon for the same interface"
ip -n "$a" link set "$ifname" mtu 1300
LOG_LEVEL=verbose n "$a" timeout 10 "$FLOWSPREADD" -f "$ifname" >"$fs_tmp/second.out" 2>&1
rc=$?
cat "$fs_tmp/second.out"
[[ $rc != 0 && $rc != 124 ]] || fail "a second flowspreadd for $ifname returned $rc, expected a failure"
if ! grep -Eqi 'another|already|in use|busy' "$fs_tmp/second.out" ||
	! grep -q "$ifname" "$fs_tmp/second.out"; then
	fail "the second flowspreadd's message does not name $ifname and say it is taken"
fi
alive "${fs_daemon_pid[$ifname]}" || fail "the first flowspreadd ended"
serving "$ifname"
[[ -S $(sock "$ifname") ]] || fail "the first daemon's socket is gone"
mtu=$(cat "/sys/class/net/$ifname/mtu" 2>/dev/null || n "$a" cat "/sys/class/net/$ifname/mtu")
[[ $mtu == 1300 ]] || fail "the MTU of $ifname is $mtu after the second daemon, expected 1300 still"
LOG_LEVEL=verbose n "$a" timeout 10 "$FLOWSPREADD" "$ifname" >"$fs_tmp/second.out" 2>&1
rc=$?
[[ $rc != 0 && $rc != 124 ]] || fail "a second flowspreadd (daemon mode) for $ifname returned $rc"
serving "$ifname"
daemon_stop "$ifname" || fail "the first flowspreadd exited with status $?"
left_nothing "$ifname"
say "the second daemon failed with a clear message; the first served on, its MTU untouched"

say "=== WG_TUN_FD and WG_UAPI_FD"
wg_ifname; ifname=$REPLY
# Python makes the TUN (one queue) and the listening socket, then becomes
# flowspreadd with both descriptors inherited ("ip netns exec" and python
# exec, so $! is the daemon).
: >"$fs_tmp/$ifname.log"
LOG_LEVEL=verbose ip netns exec "$a" python3 - "$FLOWSPREADD" "$ifname" "$(sock "$ifname")" \
	>"$fs_tmp/$ifname.log" 2>&1 <<-'EOF' &
	import fcntl, os, socket, struct, sys
	daemon, ifname, path = sys.argv[1:]
	tun = os.open('/dev/net/tun', os.O_RDWR)
	fcntl.ioctl(tun, 0x400454ca, struct.pack('16sH', ifname.encode(), 0x0001 | 0x1000))
	os.makedirs(os.path.dirname(path), exist_ok=True)
	uapi = socket.socket(socket.AF_UNIX)
	uapi.bind(path)
	uapi.listen()
	os.set_inheritable(tun, True)
	os.set_inheritable(uapi.fileno(), True)
	os.environ.update(WG_TUN_FD=str(tun), WG_UAPI_FD=str(uapi.fileno()))
	os.execv(daemon, [daemon, '-f', ifname])
	EOF
pid=$!
track "$pid"
fs_daemon_pid[$ifname]=$pid
fs_logs+=("$ifname.log")
until_true 10 grep -q 'started' "$fs_tmp/$ifname.log" || fail "flowspreadd with WG_TUN_FD did not start"
serving "$ifname"
n "$a" wg set "$ifname" listen-port 51820 || fail "wg set $ifname over WG_UAPI_FD failed"
[[ $(n "$a" wg show "$ifname" listen-port) == 51820 ]] || fail "$ifname does not show listen-port 51820"
daemon_stop "$ifname" || fail "flowspreadd (WG_TUN_FD) exited with status $?"
until_true 5 no_link "$ifname" || fail "the TUN $ifname is left behind"
rm -f "$(sock "$ifname")"
say "flowspreadd served the TUN and socket it was given"

say "=== bad values exit nonzero naming the value"
wg_ifname; ifname=$REPLY
# bad EXPECTED ENV... -- ARG...: flowspreadd fails, its message has EXPECTED.
bad()
{
	local expected=$1 env=() rc
	shift
	while [[ $1 != -- ]]; do env+=("$1"); shift; done
	shift

	n "$a" env "${env[@]}" timeout 10 "$FLOWSPREADD" "$@" </dev/null >"$fs_tmp/bad.out" 2>&1
	rc=$?
	[[ $rc != 0 && $rc != 124 ]] ||
		fail "flowspreadd ${env[*]} $*: exit status $rc, expected a failure"
	grep -qF -- "$expected" "$fs_tmp/bad.out" ||
		fail "flowspreadd ${env[*]} $*: the message does not name \"$expected\": $(cat "$fs_tmp/bad.out")"
	no_socket "$ifname" || fail "flowspreadd ${env[*]} $* left $(sock "$ifname")"
	no_link "$ifname" || fail "flowspreadd ${env[*]} $* left the TUN $ifname"
	say "  ${env[*]} flowspreadd $*: $rc, \"$(head -n 1 "$fs_tmp/bad.out")\""
}
bad Usage -- -f
bad Usage -- -f "$ifname" extra
bad bogus -- -f --bogus "$ifname"
bad 0123456789abcdef -- -f 0123456789abcdef
bad a/b -- -f a/b
bad many -- -f --workers many "$ifname"
bad 0 -- -f --workers 0 "$ifname"
bad lots FLOWSPREAD_WORKERS=lots -- -f "$ifname"
bad abc WG_TUN_FD=abc -- -f "$ifname"
bad 987 WG_TUN_FD=987 -- -f "$ifname"
bad WG_TUN_FD WG_TUN_FD=0 -- -f "$ifname"	# /dev/null, not a TUN
bad xyz WG_UAPI_FD=xyz -- -f "$ifname"
bad 986 WG_UAPI_FD=986 -- -f "$ifname"

say "=== the same, as soon as the socket appears (the daemon may still be starting)"
for how in TERM link rm; do
	wg_ifname; ifname=$REPLY
	flowspreadd_start "$a" "$ifname"
	case $how in
	TERM) kill -TERM "${fs_daemon_pid[$ifname]}" ;;
	link) ip -n "$a" link del "$ifname" || fail "ip link del $ifname failed" ;;
	rm) rm "$(sock "$ifname")" ;;
	esac
	daemon_wait "$ifname" 5 || fail "flowspreadd stopped early by $how exited with status $?, expected 0"
	left_nothing "$ifname"
	lines=$(wc -l <"$fs_tmp/$ifname.log")
	[[ $lines -lt 20 ]] || fail "flowspreadd stopped early by $how logged $lines lines"
	say "stopped by $how while starting: exit status 0, nothing left, $lines lines logged"
done

say "PASS: flowspreadd starts, daemonizes, refuses and exits as wireguard-go does, leaving nothing"
exit 0
