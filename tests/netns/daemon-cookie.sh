#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Under load, flowspreadd answers initiations with cookie replies and takes
# only those whose mac2 proves the sender owns its address (docs/protocol-core.md,
# whitepaper 5.4.7). wg-probe floods B with initiations from a key B
# does not know (valid mac1, so they reach the handshake queue), until B
# answers its real initiation with a cookie reply; the probe's next
# initiation carries mac2 made with that cookie, B completes the handshake
# and answers pings inside the tunnel. The flood's own initiations get
# cookie replies too, which the probe counts.
#
#  +------------------------------+      +------------------------------+
#  | fsns$$-a                     |      | fsns$$-b                     |
#  |  wg-probe (plain UDP)        |      |  flowspreadd wgfs$$0         |
#  |    inner 198.51.100.1        |      |    198.51.100.2/24           |
#  |  veth0 192.0.2.1/24 ---------+------+---------- veth0 192.0.2.2/24 |
#  +------------------------------+      +------------------------------+

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon

two_hosts 192.0.2.1/24 192.0.2.2/24

keypair a; a_pub=$REPLY
keypair b; b_pub=$REPLY

wg_ifname; bif=$REPLY
flowspreadd_start "$b" "$bif"
n "$b" wg set "$bif" private-key "$fs_tmp/b.key" listen-port 51821 \
	peer "$a_pub" allowed-ips 198.51.100.1/32 || fail "wg set $bif failed"
tunnel_up "$b" "$bif" 198.51.100.2/24

say "=== wg-probe floods B with initiations from an unknown key, then handshakes"
n "$a" "$WG_PROBE" initiator --private-key "$fs_tmp/a.key" --peer-public "$b_pub" \
	--endpoint 192.0.2.2:51821 --inner-src 198.51.100.1 --inner-dst 198.51.100.2 \
	--count 3 --flood 4000 --timeout 30 >"$fs_tmp/probe.log" 2>&1
status=$?
cat "$fs_tmp/probe.log"
[[ $status == 0 ]] || fail "wg-probe exited with status $status: no session under load"
grep -q '<- cookie reply from 192.0.2.2:51821' "$fs_tmp/probe.log" ||
	fail "flowspreadd never answered with a cookie reply: it was not under load"
grep -q 'with mac2 from the cookie' "$fs_tmp/probe.log" ||
	fail "the probe did not send an initiation with mac2"

# The flood's own initiations got cookie replies too: the probe ignores
# them (they name the throwaway key's indices) and counts them.
replies=$(sed -n 's/.* \([0-9]*\) unknown index.*/\1/p' "$fs_tmp/probe.log" | tail -n 1)
[[ ${replies:-0} -ge 100 ]] ||
	fail "the probe saw ${replies:-no} cookie replies to the flood; expected at least 100"

daemon_stop "$bif" || fail "flowspreadd exited with status $?"
grep 'dropped:' "$fs_tmp/$bif.log"
say "PASS: under load flowspreadd sent $replies cookie replies to a flood and accepted the initiation with mac2"
exit 0
