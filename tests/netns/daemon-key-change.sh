#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A private key changes under a working tunnel, as in the kernel's selftest,
# once on each side of a flowspreadd <-> wireguard-go pair: the side whose key
# changed drops its sessions at once, so pings stop both ways (the other side
# still knows the old public key); once the other side replaces the peer's
# public key, a new handshake completes (`wg show' latest-handshakes moves
# on both ends) and pings pass both ways again.
#
#  +-----------------------------------+      +-----------------------------------+
#  | fsns$$-a                          |      | fsns$$-b                          |
#  |                                   |      |                                   |
#  |  flowspreadd wgfs$$0              |      |  wireguard-go wgfs$$1             |
#  |    198.51.100.1/24                |      |    198.51.100.2/24                |
#  |    key a1, then a2                |      |    key b1, then b2                |
#  |    UDP 51820, endpoint of B       |      |    UDP 51821, endpoint of A       |
#  |                                   |      |                                   |
#  |  veth0 192.0.2.1/24  -------------+------+------------ veth0 192.0.2.2/24    |
#  +-----------------------------------+      +-----------------------------------+

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon

two_hosts 192.0.2.1/24 192.0.2.2/24

for key in a1 a2 b1 b2; do
	wg genkey >"$fs_tmp/$key.key"
	wg pubkey <"$fs_tmp/$key.key" >"$fs_tmp/$key.pub"
done
pub() { cat "$fs_tmp/$1.pub"; }

wg_ifname; aif=$REPLY
wg_ifname; bif=$REPLY
flowspreadd_start "$a" "$aif"
wggo_start "$b" "$bif"
n "$a" wg set "$aif" private-key "$fs_tmp/a1.key" listen-port 51820 \
	peer "$(pub b1)" endpoint 192.0.2.2:51821 allowed-ips 198.51.100.2/32 ||
	fail "wg set $aif failed"
n "$b" wg set "$bif" private-key "$fs_tmp/b1.key" listen-port 51821 \
	peer "$(pub a1)" endpoint 192.0.2.1:51820 allowed-ips 198.51.100.1/32 ||
	fail "wg set $bif failed"
tunnel_up "$a" "$aif" 198.51.100.1/24
tunnel_up "$b" "$bif" 198.51.100.2/24

# handshake_of NS IFNAME PEER
handshake_of() { wg_show_field "$1" "$2" latest-handshakes "$3"; }

# change SIDE NEWKEY OLDKEY: SIDE (a or b) swaps OLDKEY for NEWKEY; the
# other side, still knowing OLDKEY's public key, then replaces it.
change()
{
	local side=$1 new=$2 old=$3 ns ifname other_ns other_if endpoint allowed i
	local a_peer b_peer before_a before_b after_a after_b

	if [[ $side == a ]]; then
		ns=$a ifname=$aif other_ns=$b other_if=$bif
		endpoint=192.0.2.1:51820 allowed=198.51.100.1/32
		a_peer=$(pub b1) b_peer=$(pub "$new")
	else
		ns=$b ifname=$bif other_ns=$a other_if=$aif
		endpoint=192.0.2.2:51821 allowed=198.51.100.2/32
		a_peer=$(pub "$new") b_peer=$(pub a2)
	fi
	say "=== $side ($ifname) changes its private key"
	ping_all "$a" 198.51.100.2
	n "$ns" wg set "$ifname" private-key "$fs_tmp/$new.key" ||
		fail "wg set $ifname private-key failed"
	[[ $(n "$ns" wg show "$ifname" public-key) == "$(pub "$new")" ]] ||
		fail "$ifname does not show its new public key"
	ping_none "$a" 198.51.100.2
	ping_none "$b" 198.51.100.1
	say "the old session is gone: no reply either way"

	# The peer with the new key is new on the other side: no handshake yet.
	if [[ $side == a ]]; then
		before_a=$(handshake_of "$a" "$aif" "$a_peer") before_b=0
	else
		before_a=0 before_b=$(handshake_of "$b" "$bif" "$b_peer")
	fi
	sleep 1	# so that a new handshake shows a later second
	say "=== the other side replaces the public key $(pub "$old") by $(pub "$new")"
	n "$other_ns" wg set "$other_if" peer "$(pub "$old")" remove \
		peer "$(pub "$new")" endpoint "$endpoint" allowed-ips "$allowed" ||
		fail "wg set $other_if peer failed"
	# A handshake in flight may wait for its retry, REKEY_TIMEOUT (5 s) later.
	for ((i = 0; i < 12; i++)); do
		n "$a" ping -n -c 1 -W 1 198.51.100.2 >/dev/null 2>&1 && break
	done
	ping_all "$a" 198.51.100.2
	ping_all "$b" 198.51.100.1
	after_a=$(handshake_of "$a" "$aif" "$a_peer")
	after_b=$(handshake_of "$b" "$bif" "$b_peer")
	[[ ${after_a:-0} -gt ${before_a:-0} && ${after_b:-0} -gt ${before_b:-0} ]] ||
		fail "no new handshake: latest-handshakes A ${before_a:-?} -> ${after_a:-?}, B ${before_b:-?} -> ${after_b:-?}"
	say "new handshake: latest-handshakes A $before_a -> $after_a, B $before_b -> $after_b; pings pass both ways"
}

change a a2 a1
change b b2 b1

daemon_stop "$aif" || fail "flowspreadd exited with status $?"
say "PASS: a private key change ends the old session; the new key handshakes once the peer knows it"
exit 0
