#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# What flowspreadctl tells a user who cannot reach a daemon, beside wg:
# a flowspreadd's socket is root's alone (in a directory anyone may
# list), so for an unprivileged user (nobody, through setpriv) show (one
# interface, all of them) and set fail with the socket's path and
# "Permission denied", exit status 1, as `wg show' fails; `show interfaces'
# still names it, as wg's does. A socket nobody listens on is skipped by
# show and named by show IFNAME; a missing one is "no socket". A request
# the daemon refuses is reported with its reason or, from a daemon that
# gives none, its errno and where the reason is logged; exit status 1.
#
# The test runs in a mount and network namespace of its own, with a
# private tmpfs on /var/run/wireguard (mode 0755, as flowspreadd creates
# it), so the host's sockets are neither seen nor touched:
#
#  +--------------------------------------------------------------+
#  | unshare --mount --net (this script)                          |
#  |   /var/run/wireguard: tmpfs                                  |
#  |   flowspreadd wgfs$$0  (socket 0600 root)                    |
#  |   wgfs$$1.sock: bound, then closed (nobody listens)          |
#  +--------------------------------------------------------------+

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

if [[ ${FS_CTL_PRIVATE:-0} != 1 ]]; then
	[[ $(id -u) == 0 ]] || skip "needs root (namespaces, setpriv)"
	command -v unshare >/dev/null || skip "\`unshare' is not installed"
	FS_CTL_PRIVATE=1 exec unshare --mount --propagation private --net -- "$0" "$@"
fi
require_daemon python3 setpriv
CTL=${CTL:-$top_builddir/flowspreadctl}
[[ -x $CTL ]] || fail "$CTL is missing: run \`make flowspreadctl' first"

mkdir -p /var/run/wireguard
mount -t tmpfs -o mode=0755 flowspread-test /var/run/wireguard ||
	skip "cannot mount a private tmpfs on /var/run/wireguard"
ip link set lo up

wg_ifname; ifname=$REPLY
wg_ifname; stale=$REPLY
wg_ifname; missing=$REPLY
sock=/var/run/wireguard/$ifname.sock

chat "  flowspreadd -f $ifname &"
LOG_LEVEL=verbose "$FLOWSPREADD" -f "$ifname" >"$fs_tmp/$ifname.log" 2>&1 &
fs_daemon_pid[$ifname]=$!
track $!
fs_logs+=("$ifname.log")
until_true 10 test -S "$sock" || fail "flowspreadd did not create $sock"
mode=$(stat -c %a "$sock")
((8#$mode & 8#077)) && fail "$sock has mode $mode: expected it closed to others than root"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' \
	"/var/run/wireguard/$stale.sock" || fail "cannot create a socket nobody listens on"
chmod 0777 "/var/run/wireguard/$stale.sock"	# nobody may connect: and is refused

# run [as_nobody] CMD...: CMD's exit status in $rc, its output in $out and $err.
run()
{
	local who=()

	[[ $1 == as_nobody ]] && { who=(setpriv --reuid=65534 --regid=65534 --clear-groups); shift; }
	chat "  ${who[*]} $*"
	"${who[@]}" "$@" >"$fs_tmp/out" 2>"$fs_tmp/err"
	rc=$?
	out=$(cat "$fs_tmp/out")
	err=$(cat "$fs_tmp/err")
}

# expect RC ERR CMD...: what "run CMD..." must give: exit status RC, stderr ERR.
expect()
{
	local want_rc=$1 want_err=$2
	shift 2

	run "$@"
	[[ $rc == "$want_rc" && $err == "$want_err" ]] ||
		fail "$*: exit status $rc, stderr \"$err\"; expected $want_rc, \"$want_err\""
}

denied="flowspreadctl: interface $ifname: cannot connect to $sock: Permission denied"

say "=== as nobody: the daemon's socket is root's"
run as_nobody wg show
[[ $rc == 1 && $err == *"$ifname: Permission denied"* ]] ||
	fail "wg show as nobody: exit status $rc, stderr \"$err\"; the reference changed?"
say "wg show: exit status $rc, $err"
for args in "show $ifname" "show" "show all" "showconf $ifname" "endpoints $ifname" \
	    "set $ifname listen-port 51820"; do
	# shellcheck disable=SC2086 # the words of args
	expect 1 "$denied" as_nobody "$CTL" $args
	[[ -z $out ]] || fail "flowspreadctl $args as nobody printed \"$out\""
	say "flowspreadctl $args: exit status 1, $err"
done
expect 0 "" as_nobody "$CTL" show interfaces
[[ $out == "$ifname" ]] || fail "flowspreadctl show interfaces as nobody: \"$out\", expected \"$ifname\""

say "=== a socket nobody listens on, and none"
expect 0 "" "$CTL" show
[[ $out == "interface: $ifname"* && $out != *"$stale"* ]] ||
	fail "flowspreadctl show: expected $ifname alone, got: $out"
expect 1 "flowspreadctl: interface $stale: nobody listens on /var/run/wireguard/$stale.sock (is its daemon running?)" \
	"$CTL" show "$stale"
expect 1 "flowspreadctl: interface $missing: no socket /var/run/wireguard/$missing.sock (is its daemon running?)" \
	"$CTL" show "$missing"

say "=== a request the daemon refuses"
# flowspreadctl does not check that spread prefixes overlap; the daemon does.
run "$CTL" set "$ifname" spread-prefix 2001:db8::/64,2001:db8::/48
[[ $rc == 1 ]] || fail "a refused set: exit status $rc, expected 1"
hint="(the daemon's log has the reason: journalctl -u flowspreadd@$ifname, or syslog when wg-quick started it)"
if [[ $err == "flowspreadctl: $ifname: "* ]]; then
	[[ $err == *overlap* ]] || fail "a refused set: the reason does not name the overlap: $err"
else
	[[ $err == "flowspreadctl: interface $ifname: its daemon refused the change: Invalid argument (errno=-22) $hint" ]] ||
		fail "a refused set: stderr \"$err\""
fi
say "$err"
run "$CTL" show "$ifname"
[[ $rc == 0 && $out != *"spread prefix"* ]] || fail "the refused prefixes were applied: $out"

daemon_stop "$ifname" || fail "flowspreadd $ifname exited with status $?"
say "PASS: unreachable daemons and refusals reported with exit status 1"
exit 0
