#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The allowed-IPs source check (the "crypto-RP filter" of the kernel's
# selftest): flowspreadd B accepts from peer A only inner sources inside A's
# allowed-ips. A pings B from a second tunnel address outside them, over
# IPv4 and IPv6: no reply. B widens A's allowed-ips to the /24: the same ping
# is answered. A third peer C gets the more specific 198.51.100.66/32: the
# source now belongs to C, so A's packets from it are dropped again; C
# removed, they pass. At exit, B's log counts exactly those 9 packets as
# "source not allowed". A is wireguard-go, which sends whatever the
# kernel routes into its tunnel.
#
#  +-----------------------------------+      +-----------------------------------+
#  | fsns$$-a                          |      | fsns$$-b                          |
#  |                                   |      |                                   |
#  |  wireguard-go wgfs$$0             |      |  flowspreadd wgfs$$1              |
#  |    198.51.100.1/24, fd00:1::1/64  |      |    198.51.100.2/24, fd00:1::2/64  |
#  |    also .66 and fd00:1::66        |      |    peer A: 198.51.100.1/32,       |
#  |    peer B: 198.51.100.2/32,       |      |      fd00:1::1/128 (then the /24) |
#  |      fd00:1::2/128                |      |    peer C (later): .66/32         |
#  |                                   |      |                                   |
#  |  veth0 192.0.2.1/24  -------------+------+------------ veth0 192.0.2.2/24    |
#  +-----------------------------------+      +-----------------------------------+

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon

two_hosts 192.0.2.1/24 192.0.2.2/24

two_daemons wggo_start flowspreadd_start
c_pub=$(wg genkey | wg pubkey)
n "$b" wg set "$bif" private-key "$fs_tmp/b.key" listen-port 51821 \
	peer "$a_pub" allowed-ips 198.51.100.1/32,fd00:1::1/128 || fail "wg set $bif failed"
n "$a" wg set "$aif" private-key "$fs_tmp/a.key" listen-port 51820 \
	peer "$b_pub" endpoint 192.0.2.2:51821 allowed-ips 198.51.100.2/32,fd00:1::2/128 ||
	fail "wg set $aif failed"
tunnel_up "$a" "$aif" 198.51.100.1/24 fd00:1::1/64 198.51.100.66/32 fd00:1::66/128
tunnel_up "$b" "$bif" 198.51.100.2/24 fd00:1::2/64

dropped=0

say "=== from A's allowed sources: answered"
ping_all "$a" 198.51.100.2 3 -I 198.51.100.1
ping_all "$a" fd00:1::2 3 -I fd00:1::1

say "=== from 198.51.100.66 and fd00:1::66, outside A's allowed-ips on B: dropped"
ping_none "$a" 198.51.100.2 -I 198.51.100.66
ping_none "$a" fd00:1::2 -I fd00:1::66
dropped=$((dropped + 6))

say "=== B allows A 198.51.100.0/24: answered"
n "$b" wg set "$bif" peer "$a_pub" allowed-ips 198.51.100.0/24,fd00:1::1/128
ping_all "$a" 198.51.100.2 3 -I 198.51.100.66

say "=== a third peer on B gets 198.51.100.66/32: A's packets from it are dropped"
n "$b" wg set "$bif" peer "$c_pub" allowed-ips 198.51.100.66/32
ping_none "$a" 198.51.100.2 -I 198.51.100.66
dropped=$((dropped + 3))
ping_all "$a" 198.51.100.2 3 -I 198.51.100.1

say "=== the third peer removed: answered again"
n "$b" wg set "$bif" peer "$c_pub" remove
ping_all "$a" 198.51.100.2 3 -I 198.51.100.66

daemon_stop "$bif" || fail "flowspreadd exited with status $?"
grep 'dropped:' "$fs_tmp/$bif.log"
count=$(drop_count "$bif" 'source not allowed')
[[ $count == "$dropped" ]] ||
	fail "flowspreadd counted ${count:-no} packets as \"source not allowed\", expected $dropped"
say "PASS: flowspreadd dropped the $dropped packets whose inner source its peer may not use"
exit 0
