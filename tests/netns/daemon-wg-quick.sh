#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# wg-quick runs flowspreadd: on a host without the WireGuard kernel module,
# `ip link add type wireguard' fails and wg-quick falls back to
# WG_QUICK_USERSPACE_IMPLEMENTATION, here the built flowspreadd, in daemon
# mode. `wg-quick up' must then find the UAPI socket to `wg setconf', set the
# addresses, the MTU (1420: the veth's 1500 less 80) and the routes of the
# allowed-ips; pings pass both ways with a wireguard-go peer. `wg-quick down'
# deletes the link: the daemon exits and leaves nothing. Twice, to be sure
# the second `up' finds nothing left by the first.
#
#  +-----------------------------------+      +-----------------------------------+
#  | fsns$$-a                          |      | fsns$$-b                          |
#  |                                   |      |                                   |
#  |  wg-quick up $fs_tmp/wgfs$$0.conf |      |  wireguard-go wgfs$$1             |
#  |    -> flowspreadd wgfs$$0         |      |    198.51.100.2/24, fd00:1::2/64  |
#  |    198.51.100.1/24, fd00:1::1/64  |      |    UDP 51821                      |
#  |    UDP 51820, peer B at           |      |                                   |
#  |    192.0.2.2:51821                |      |                                   |
#  |                                   |      |                                   |
#  |  veth0 192.0.2.1/24  -------------+------+------------ veth0 192.0.2.2/24    |
#  +-----------------------------------+      +-----------------------------------+

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon wg-quick ss
[[ -e /sys/module/wireguard ]] && skip "the WireGuard kernel module is loaded: wg-quick would use it"

two_hosts 192.0.2.1/24 192.0.2.2/24
if ip -n "$a" link add fsprobe type wireguard 2>/dev/null; then
	ip -n "$a" link del fsprobe
	skip "this kernel creates WireGuard links: wg-quick would not run flowspreadd"
fi

keypair a; a_pub=$REPLY
keypair b; b_pub=$REPLY

wg_ifname; aif=$REPLY
wg_ifname; bif=$REPLY
wggo_start "$b" "$bif"
n "$b" wg set "$bif" private-key "$fs_tmp/b.key" listen-port 51821 \
	peer "$a_pub" allowed-ips 198.51.100.1/32,fd00:1::1/128 || fail "wg set $bif failed"
tunnel_up "$b" "$bif" 198.51.100.2/24 fd00:1::2/64

# wg-quick names the interface after the file.
conf=$fs_tmp/$aif.conf
cat >"$conf" <<-EOF
	[Interface]
	PrivateKey = $(cat "$fs_tmp/a.key")
	ListenPort = 51820
	Address = 198.51.100.1/24, fd00:1::1/64

	[Peer]
	PublicKey = $b_pub
	Endpoint = 192.0.2.2:51821
	AllowedIPs = 198.51.100.2/32, fd00:1::2/128
	EOF

# quick up|down: wg-quick, with flowspreadd as the userspace implementation.
quick()
{
	WG_QUICK_USERSPACE_IMPLEMENTATION=$FLOWSPREADD LOG_LEVEL=verbose \
		n "$a" wg-quick "$1" "$conf" >"$fs_tmp/quick.out" 2>&1
	local rc=$?
	sed 's/^/  /' "$fs_tmp/quick.out"
	[[ $rc == 0 ]] || fail "wg-quick $1 exited with status $rc"
}

for round in 1 2; do
	say "=== wg-quick up (round $round)"
	quick up
	grep -q "Falling back" "$fs_tmp/quick.out" || fail "wg-quick did not fall back to userspace"
	grep -qF "$FLOWSPREADD $aif" "$fs_tmp/quick.out" || fail "wg-quick did not run $FLOWSPREADD"
	pid=$(ss -N "$a" -xlpH | awk -v path="/var/run/wireguard/$aif.sock" '$5 == path' |
		sed -n 's/.*"flowspreadd",pid=\([0-9]*\).*/\1/p')
	[[ -n $pid ]] || fail "flowspreadd does not listen on /var/run/wireguard/$aif.sock"
	track "$pid"
	ip -n "$a" -d link show "$aif" | grep -qw tun || fail "$aif is not a TUN"
	mtu=$(ip -n "$a" link show "$aif" | sed -n 's/.* mtu \([0-9]*\) .*/\1/p')
	[[ $mtu == 1420 ]] || fail "wg-quick gave $aif MTU $mtu, expected 1420"
	[[ $(wg_show_field "$a" "$aif" endpoints "$b_pub") == 192.0.2.2:51821 ]] ||
		fail "flowspreadd was not configured by wg-quick"
	ping_all "$a" 198.51.100.2
	ping_all "$a" fd00:1::2
	ping_all "$b" 198.51.100.1
	ping_all "$b" fd00:1::1
	say "flowspreadd (PID $pid) runs $aif, MTU $mtu; pings pass both ways"

	say "=== wg-quick down (round $round)"
	quick down
	until_true 5 exited "$pid" || fail "flowspreadd (PID $pid) still runs after wg-quick down"
	reap "$pid" 2>/dev/null
	[[ ! -e /var/run/wireguard/$aif.sock ]] || fail "wg-quick down left /var/run/wireguard/$aif.sock"
	ip -n "$a" link show "$aif" >/dev/null 2>&1 && fail "wg-quick down left the link $aif"
	say "flowspreadd exited; no socket, no link"
done

say "PASS: wg-quick up and down run flowspreadd as its userspace implementation"
exit 0
