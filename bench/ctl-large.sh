#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# How long flowspreadctl takes on a large interface, beside wg: one
# flowspreadd (no traffic) in a namespace of its own, set with `wg setconf'
# to PEERS peers sharing ALLOWED allowed IPs (IPv6 /128s in fd00::/8), then
# timed, each RUNS times (the best kept):
#   wg show IF, flowspreadctl show IF                  (output to /dev/null)
#   wg syncconf IF FILE, flowspreadctl syncconf IF FILE (the file set:
#                                                       nothing changes)
# Before timing, `flowspreadctl show' must list every allowed IP.
#
#   bench/ctl-large.sh [ALLOWED [PEERS [RUNS]]]      (400000 4 3)
#
# CTL=/path/to/flowspreadctl times another build (default: the built one).
# Root; uses tests/netns/lib.sh, so everything is named after our PID and
# removed on exit.

set -u
top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
top_builddir=${top_builddir:-$top_srcdir}
# shellcheck source-path=SCRIPTDIR source=../tests/netns/lib.sh
. "$top_srcdir/tests/netns/lib.sh"

allowed=${1:-400000}
peers=${2:-4}
runs=${3:-3}
ctl=${CTL:-$top_builddir/flowspreadctl}
[[ -x $ctl ]] || { echo "bench: $ctl is missing: run make first" >&2; exit 1; }

require_daemon python3

ns_create a; a=$REPLY
wg_ifname; ifname=$REPLY
flowspreadd_start "$a" "$ifname"

python3 -c '
import base64, os, sys
allowed, peers, private = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
print("[Interface]\nPrivateKey = %s\nListenPort = 51820" % private)
per = -(-allowed // peers)
for p in range(peers):
    print("[Peer]\nPublicKey = %s" % base64.b64encode(os.urandom(32)).decode())
    first, last = p * per, min(allowed, (p + 1) * per)
    for i in range(first, last, 1000):
        print("AllowedIPs = " + ",".join("fd00:0:%x::%x/128" % (j >> 16, j & 0xffff)
                                         for j in range(i, min(last, i + 1000))))
' "$allowed" "$peers" "$(wg genkey)" >"$fs_tmp/big.conf" || fail "cannot write the configuration"

SECONDS=0
n "$a" wg setconf "$ifname" "$fs_tmp/big.conf" || fail "wg setconf $ifname failed"
say "wg setconf of $allowed allowed IPs over $peers peers: $SECONDS s"

got=$(n "$a" "$ctl" show "$ifname" | sed -n 's/^  allowed ips: //p' | tr ',' '\n' | grep -c /)
[[ $got == "$allowed" ]] || fail "flowspreadctl show $ifname: $got allowed IPs, expected $allowed"

# timed CMD...: the shortest wall-clock time of RUNS runs of CMD, in $REPLY.
timed()
{
	local i t times=()

	for ((i = 0; i < runs; i++)); do
		t=$({ TIMEFORMAT=%R; time "$@" >/dev/null 2>"$fs_tmp/err"; } 2>&1) ||
			{ cat "$fs_tmp/err" >&2; fail "$* failed"; }
		times+=("$t")
	done
	REPLY=$(printf '%s\n' "${times[@]}" | sort -g | head -n 1)
}

timed n "$a" wg show "$ifname"
say "wg show:                $REPLY s"
timed n "$a" "$ctl" show "$ifname"
say "flowspreadctl show:     $REPLY s"
timed n "$a" wg syncconf "$ifname" "$fs_tmp/big.conf"
say "wg syncconf:            $REPLY s"
timed n "$a" "$ctl" syncconf "$ifname" "$fs_tmp/big.conf"
say "flowspreadctl syncconf: $REPLY s"
daemon_stop "$ifname" || fail "flowspreadd $ifname exited with status $?"
exit 0
