#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A firewall that drops the daemon's outgoing datagrams for a while must
# not turn UDP GSO off for good: EPERM says nothing about segmentation.
#
# flowspreadd in a, wireguard-go in b, one worker. Large pings from a
# (fragments of 1420 bytes: many equal packets at once) make the worker
# send several data messages in one sendmsg (UDP_SEGMENT). An nftables
# rule in a's output hook drops UDP to b's port, and counts the dropped
# GSO sends apart (an skb of more than 1500 bytes is a GSO send: every
# datagram fits the veth's MTU): sendmsg fails with EPERM. Once it dropped
# at least 3 of them (the daemon used to give up GSO after 3 failures of
# any kind), the rule goes and a counting rule takes its place: traffic
# resumes (ping through the tunnel) and GSO sends leave again (the
# counting rule sees skbs of more than 1500 bytes). At exit the worker's
# statistics say GSO stayed on and its failed GSO sends are counted.
#
#  fsns$$-a: flowspreadd wgfs$$0 198.51.100.1/24, veth0 192.0.2.1/24
#  fsns$$-b: wireguard-go wgfs$$1 198.51.100.2/24, veth0 192.0.2.2/24, UDP 51821

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon nft

two_hosts 192.0.2.1/24 192.0.2.2/24
keypair a; a_pub=$REPLY
keypair b; b_pub=$REPLY
wg_ifname; aif=$REPLY
wg_ifname; bif=$REPLY
flowspreadd_start "$a" "$aif" --workers 1
wggo_start "$b" "$bif"
n "$a" wg set "$aif" private-key "$fs_tmp/a.key" listen-port 51820 \
	peer "$b_pub" allowed-ips 198.51.100.2/32 endpoint 192.0.2.2:51821 ||
	fail "wg set $aif failed"
n "$b" wg set "$bif" private-key "$fs_tmp/b.key" listen-port 51821 \
	peer "$a_pub" allowed-ips 198.51.100.1/32 || fail "wg set $bif failed"
tunnel_up "$a" "$aif" 198.51.100.1/24
tunnel_up "$b" "$bif" 198.51.100.2/24
ping_all "$a" 198.51.100.2

# counter COMMENT: packets counted by the rule with that comment in a.
counter()
{
	n "$a" nft list chain inet fsgso out |
		sed -n "s/.*counter packets \([0-9]*\) .*comment \"$1\".*/\1/p"
}
at_least() { local c; c=$(counter "$1"); [[ -n $c && $c -ge $2 ]]; }

n "$a" nft -f - <<-EOF || fail "cannot add the nftables rules in $a"
	table inet fsgso {
		chain out {
			type filter hook output priority 0; policy accept;
			udp dport 51821 meta length > 1500 counter drop comment "gso-dropped"
			udp dport 51821 counter drop comment "dropped"
		}
	}
EOF

# Fragments of 1420 bytes, 15 a ping, until the end of the test.
ip netns exec "$a" ping -q -i 0.05 -s 20000 198.51.100.2 >/dev/null 2>&1 &
track $!

until_true 30 at_least gso-dropped 3 ||
	fail "the firewall dropped $(counter gso-dropped) GSO sends in 30 s, expected at least 3"
gso_dropped=$(counter gso-dropped)
n "$a" nft flush chain inet fsgso out
say "dropped while the rule was there: $gso_dropped GSO sends"
n "$a" nft add rule inet fsgso out udp dport 51821 meta length gt 1500 counter comment '"gso-after"' ||
	fail "cannot add the counting rule in $a"
ping_all "$a" 198.51.100.2
until_true 20 at_least gso-after 3 ||
	fail "$(counter gso-after) GSO sends in 20 s after the firewall let traffic through again, expected at least 3: GSO was turned off"
say "after the rule went: $(counter gso-after) GSO sends"
ping_all "$a" 198.51.100.2

if grep -q 'segmentation offload failed' "$fs_tmp/$aif.log"; then
	grep 'segmentation offload failed' "$fs_tmp/$aif.log" >&2
	fail "flowspreadd turned UDP GSO off because a firewall dropped datagrams"
fi
daemon_stop "$aif" || fail "flowspreadd exited with status $?"
stats=$(grep -E 'worker 0: .* UDP GSO (on|off)$' "$fs_tmp/$aif.log" | tail -n 1)
say "$stats"
[[ $stats == *"UDP GSO on" ]] || fail "worker 0's statistics at exit: expected UDP GSO on"
failed=$(sed -n 's/.* sends failed (\([0-9]*\) GSO).*/\1/p' <<<"$stats")
[[ -n $failed && $failed -ge $gso_dropped ]] ||
	fail "worker 0 counted ${failed:-no} failed GSO sends, expected at least the $gso_dropped the firewall dropped"
say "PASS"
