#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Start-up as wireguard-go, and start-up errors that say what to do:
#  - LOG_LEVEL with a value that names no level (info, as wireguard-go's
#    older releases had it): a warning on stderr naming the value, then
#    the daemon starts and logs errors only (no "started" line, no
#    "shutting down" line), in the foreground and in daemon mode;
#  - no /dev/net/tun (an empty tmpfs over /dev/net, in a mount namespace of
#    the daemon's own): exit status 1 in the foreground and in daemon mode,
#    the message names /dev/net/tun and the tun module;
#  - a /dev/net/tun the user cannot open (mode 0600, as nobody): status 1,
#    the message names /dev/net/tun, the reason and CAP_NET_ADMIN;
#  - a /dev/net/tun anyone can open, but no CAP_NET_ADMIN (as nobody):
#    status 1, the message names the interface and CAP_NET_ADMIN.
# Nothing is left behind: no socket, no TUN.
#
#  fsns$$-a: flowspreadd wgfs$$N, one after the other

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon unshare setpriv

ns_create a; a=$REPLY

sock() { echo "/var/run/wireguard/$1.sock"; }
no_socket() { [[ ! -e $(sock "$1") ]]; }
no_link() { ! ip -n "$a" link show "$1" >/dev/null 2>&1; }
left_nothing()
{
	until_true 5 no_socket "$1" || fail "$(sock "$1") is left behind"
	until_true 5 no_link "$1" || fail "the TUN $1 is left behind"
}

say "=== LOG_LEVEL=info: a warning, then the daemon runs and logs errors only"
wg_ifname; ifname=$REPLY
LOG_LEVEL=info ip netns exec "$a" "$FLOWSPREADD" -f "$ifname" >"$fs_tmp/info.log" 2>&1 &
pid=$!
track "$pid"
until_true 10 test -S "$(sock "$ifname")" ||
	fail "LOG_LEVEL=info: flowspreadd did not start: $(cat "$fs_tmp/info.log")"
n "$a" wg show "$ifname" >/dev/null || fail "LOG_LEVEL=info: wg show $ifname failed"
kill -TERM "$pid"
until_true 10 exited "$pid" || fail "LOG_LEVEL=info: flowspreadd did not exit on SIGTERM"
reap "$pid" || fail "LOG_LEVEL=info: flowspreadd exited with status $?, expected 0"
left_nothing "$ifname"
cat "$fs_tmp/info.log"
grep -qF 'LOG_LEVEL="info"' "$fs_tmp/info.log" ||
	fail "LOG_LEVEL=info: no warning naming the value"
grep -qE 'started|shutting down' "$fs_tmp/info.log" &&
	fail "LOG_LEVEL=info: verbose lines were logged, expected errors only"
say "LOG_LEVEL=info in the foreground: warned, ran, exit status 0, errors only"

wg_ifname; ifname=$REPLY
n "$a" env LOG_LEVEL=info timeout 10 "$FLOWSPREADD" "$ifname" </dev/null >"$fs_tmp/info-daemon.log" 2>&1 ||
	fail "LOG_LEVEL=info, daemon mode: exit status $?, expected 0: $(cat "$fs_tmp/info-daemon.log")"
grep -qF 'LOG_LEVEL="info"' "$fs_tmp/info-daemon.log" ||
	fail "LOG_LEVEL=info, daemon mode: no warning naming the value"
test -S "$(sock "$ifname")" || fail "LOG_LEVEL=info, daemon mode: no socket once the command returned"
ip -n "$a" link del "$ifname" || fail "ip link del $ifname failed"
left_nothing "$ifname"
say "LOG_LEVEL=info in daemon mode: warned, started (status 0), stopped by ip link del"

# tun_case WHAT SETUP USER EXPECTED... -- OPTION...: flowspreadd OPTION...
# IFNAME in a mount namespace of its own, /dev/net an empty tmpfs where
# SETUP (shell, as root) ran, as USER; it must exit with status 1, its
# message having every EXPECTED, and leave nothing.
tun_case()
{
	local what=$1 setup=$2 user=$3 expected=() as=() rc e
	shift 3
	while [[ $1 != -- ]]; do expected+=("$1"); shift; done
	shift
	[[ $user == root ]] || as=(setpriv --reuid="$user" --regid=nogroup --clear-groups)
	wg_ifname; ifname=$REPLY

	# shellcheck disable=SC2016 # expanded by the inner bash
	n "$a" timeout 10 unshare -m --propagation private bash -c '
		mount -t tmpfs fsnotun /dev/net || exit 90
		cd /dev/net && eval "$1" || exit 91
		shift
		exec "$@"' bash "$setup" "${as[@]}" "$FLOWSPREADD" "$@" "$ifname" \
		</dev/null >"$fs_tmp/tun.out" 2>&1
	rc=$?
	[[ $rc != 90 && $rc != 91 ]] || skip "$what: cannot set up /dev/net in a mount namespace (status $rc)"
	[[ $rc == 1 ]] || fail "$what, flowspreadd $*: exit status $rc, expected 1: $(cat "$fs_tmp/tun.out")"
	for e in "${expected[@]}"; do
		grep -qF -- "$e" "$fs_tmp/tun.out" ||
			fail "$what, flowspreadd $*: the message does not say \"$e\": $(cat "$fs_tmp/tun.out")"
	done
	left_nothing "$ifname"
	say "  $what, flowspreadd $*: 1, \"$(head -n 1 "$fs_tmp/tun.out")\""
}

say "=== no /dev/net/tun, or no right to use it: status 1 and a message that says what to do"
for mode in -f ""; do
	# shellcheck disable=SC2086 # $mode is one word or none
	tun_case "no /dev/net/tun" true root "no /dev/net/tun" "modprobe tun" -- $mode
done
node='mknod tun c 10 200 && chmod'
tun_case "/dev/net/tun mode 0600, as nobody" "$node 600 tun" nobody \
	"cannot open /dev/net/tun" "Permission denied" CAP_NET_ADMIN -- -f
tun_case "/dev/net/tun mode 0666, as nobody" "$node 666 tun" nobody \
	"cannot create TUN device" "Operation not permitted" CAP_NET_ADMIN -- -f
tun_case "/dev/net/tun mode 0666, as nobody, daemon mode" "$node 666 tun" nobody \
	"cannot create TUN device" CAP_NET_ADMIN --

say "PASS"
