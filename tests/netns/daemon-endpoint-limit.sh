#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# One set that adds a peer and changes endpoint_limit: the new peer's
# endpoint table takes the limit the set leaves the device with, as the
# peers already there do. (Peers are made before anything changes, so that
# a set is whole or nothing; they used to be made with the old limit.)
# wg-probe completes a handshake as that peer, then sends authenticated
# data from 2000 source addresses; the most entries the table held
# (endpoint_count_max) must not exceed 1 + endpoint_limit (the learned
# slots and the roaming slot), and must reach it (the sources were seen).
#
#  +----------------------------------+      +----------------------------------+
#  | fsns$$-a                         |      | fsns$$-b                         |
#  |  wg-probe (plain UDP)            |      |  flowspreadd wgfs$$0, :51820     |
#  |    inner 198.51.100.1            |      |    198.51.100.2/24               |
#  |  local 2001:db8:77::/64          |      |    peer: the probe, added in the |
#  |                                  |      |    set with endpoint_limit=2     |
#  |  veth0 2001:db8:1::1/64 ---------+------+--------- veth0 2001:db8:1::2/64 |
#  +----------------------------------+      +----------------------------------+

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon python3

limit=2

two_hosts 2001:db8:1::1/64 2001:db8:1::2/64
ip -n "$a" -6 route add local 2001:db8:77::/64 dev lo || fail "cannot add a local route in $a"
ip -n "$b" -6 route add 2001:db8:77::/64 via 2001:db8:1::1 || fail "cannot route 2001:db8:77::/64 in $b"

keypair a; a_pub=$REPLY
keypair b; b_pub=$REPLY
a_hex=$(base64 -d <<<"$a_pub" | od -An -tx1 | tr -d ' \n')

wg_ifname; bif=$REPLY
flowspreadd_start "$b" "$bif"
n "$b" wg set "$bif" private-key "$fs_tmp/b.key" listen-port 51820 || fail "wg set $bif failed"
answer=$(printf 'set=1\nendpoint_limit=%s\npublic_key=%s\nallowed_ip=198.51.100.1/32\n\n' \
	"$limit" "$a_hex" | uapi_raw "$bif")
[[ $answer == errno=0 ]] || fail "set endpoint_limit=$limit with a new peer: $answer"
tunnel_up "$b" "$bif" 198.51.100.2/24

peer_get() { printf 'get=1\n\n' | uapi_raw "$bif"; }
value() { peer_get | sed -n "s/^$1=//p"; }
[[ $(value endpoint_limit) == "$limit" ]] || fail "endpoint_limit is $(value endpoint_limit), expected $limit"

n "$a" "$WG_PROBE" initiator --private-key "$fs_tmp/a.key" --peer-public "$b_pub" \
	--endpoint '[2001:db8:1::2]:51820' --inner-src 198.51.100.1 --inner-dst 198.51.100.2 \
	--flood-sources 2000 --source-prefix 2001:db8:77::/64 --inner-flows 100 \
	>"$fs_tmp/probe.log" 2>&1 || { cat "$fs_tmp/probe.log"; fail "wg-probe failed"; }
grep '^->' "$fs_tmp/probe.log"

most=$(value endpoint_count_max)
[[ $most =~ ^[0-9]+$ ]] || fail "no endpoint_count_max in get: \`$most'"
peer_get | grep '^endpoint_' | sed 's/^/  /'
((most <= 1 + limit)) ||
	fail "the new peer's table held $most entries, over 1 + endpoint_limit = $((1 + limit)): it took the old limit"
((most == 1 + limit)) ||
	fail "the table held only $most entries of 2000 sources: sources not learned?"

daemon_stop "$bif" || fail "flowspreadd exited with status $?"
say "PASS: a peer added with endpoint_limit=$limit in the same set holds at most $((1 + limit)) entries ($most)"
exit 0
