#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Handshake retries follow the kernel's timers: a packet for a peer whose
# endpoint never answers starts a handshake, retried every REKEY_TIMEOUT
# (5 s) plus up to 333 ms of jitter, and after MAX_TIMER_HANDSHAKES + 2 =
# 20 initiations (about 95 s) flowspreadd gives up: the packet that waited
# is dropped and no initiation follows. Checked on the wire (tcpdump in
# B, where nothing listens) and in A's log. Takes about 110 s.
#
#  +------------------------------+      +------------------------------+
#  | fsns$$-a                     |      | fsns$$-b                     |
#  |  flowspreadd wgfs$$0         |      |  nothing on UDP 51821        |
#  |    198.51.100.1/24           |      |  tcpdump counts initiations  |
#  |  veth0 192.0.2.1/24 ---------+------+---------- veth0 192.0.2.2/24 |
#  +------------------------------+      +------------------------------+

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon tcpdump

two_hosts 192.0.2.1/24 192.0.2.2/24

wg_ifname; aif=$REPLY
flowspreadd_start "$a" "$aif"
n "$a" wg set "$aif" private-key <(wg genkey) listen-port 51820 \
	peer "$(wg genkey | wg pubkey)" endpoint 192.0.2.2:51821 allowed-ips 198.51.100.2/32 ||
	fail "wg set $aif failed"
tunnel_up "$a" "$aif" 198.51.100.1/24

# Initiations are 148-byte UDP payloads: 176-byte IP packets.
n "$b" tcpdump -n -i veth0 -l 'udp dst port 51821 and ip[2:2] = 176' >"$fs_tmp/wire" 2>/dev/null &
track $!
sleep 1

say "=== one packet for the peer starts the handshake; nobody answers"
start=$(date +%s)
n "$a" ping -c 1 -W 1 198.51.100.2 >/dev/null && fail "a ping was answered by nobody"
until_true 115 grep -q 'giving up' "$fs_tmp/$aif.log" ||
	fail "no \"giving up\" after 115 s; $(grep -c 'sending handshake initiation' "$fs_tmp/$aif.log") initiations logged"
elapsed=$(($(date +%s) - start))
sent=$(grep -c 'sending handshake initiation' "$fs_tmp/$aif.log")
sleep 8	# nothing more may follow
wire=$(wc -l <"$fs_tmp/wire")
after=$(grep -c 'sending handshake initiation' "$fs_tmp/$aif.log")

say "gave up after $elapsed s: $sent initiations logged, $wire seen on the wire"
[[ $sent == 20 ]] || fail "$sent initiations before giving up, expected 20 (MAX_TIMER_HANDSHAKES + 2)"
[[ $wire == 20 ]] || fail "$wire initiations on the wire, expected 20"
[[ $after == 20 ]] || fail "$((after - 20)) initiations after giving up"
((elapsed >= 95 && elapsed <= 105)) ||
	fail "gave up after $elapsed s; expected 19 retries of 5 s plus jitter (95..102 s)"

daemon_stop "$aif" || fail "flowspreadd exited with status $?"
say "PASS: 20 initiations in $elapsed s, then flowspreadd gave up, as the kernel's timers do"
exit 0
