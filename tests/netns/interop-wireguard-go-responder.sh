#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The protocol core responds: ping in wireguard-go's namespace makes
# wireguard-go initiate a handshake (no preshared key) to wg-probe, which
# answers it and then answers each encrypted ICMP echo request. Then once
# more with wg-probe "under load": it answers the first initiation with a
# cookie reply, and wireguard-go's retry (REKEY_TIMEOUT, 5 s, later) must
# carry a mac2 made with that cookie.
#
#  +-----------------------------------+      +-----------------------------------+
#  | fsns$$-probe                      |      | fsns$$-wg                         |
#  |                                   |      |                                   |
#  |  wg-probe responder (no TUN)      |      |  wireguard-go, interface wgfs$$0  |
#  |    UDP 51820                      |      |    198.51.100.2/24, UDP 51821     |
#  |    inner 198.51.100.1             |      |    peer: the probe's key,         |
#  |                                   |      |    endpoint 192.0.2.1:51820,      |
#  |                                   |      |    allowed-ips 198.51.100.1/32    |
#  |                                   |      |                                   |
#  |  veth0 192.0.2.1/24  -------------+------+------------ veth0 192.0.2.2/24    |
#  +-----------------------------------+      +-----------------------------------+
#
#  ping -c 3 198.51.100.1 in fsns$$-wg: <- initiation, -> response,
#  <- echo request (encrypted), -> echo reply (encrypted), three times.
#  Under load: <- initiation, -> cookie reply, 5 s, <- initiation with mac2, ...

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_netns

ns_create probe; probe=$REPLY
ns_create wg; wgns=$REPLY
veth_pair "$probe" "$wgns"
ip -n "$probe" addr add 192.0.2.1/24 dev veth0
ip -n "$wgns" addr add 192.0.2.2/24 dev veth0

keypair probe; probe_pub=$REPLY
keypair wg; wg_pub=$REPLY

wg_ifname; wgif=$REPLY
wireguard_go_start "$wgns" "$wgif"
n "$wgns" wg set "$wgif" private-key "$fs_tmp/wg.key" listen-port 51821 \
	peer "$probe_pub" endpoint 192.0.2.1:51820 allowed-ips 198.51.100.1/32 ||
	fail "wg set on wireguard-go failed"
n "$wgns" ip addr add 198.51.100.2/24 dev "$wgif"
n "$wgns" ip link set "$wgif" up

probe_args=(--private-key "$fs_tmp/probe.key" --peer-public "$wg_pub"
	--listen 51820 --inner-src 198.51.100.1 --inner-dst 198.51.100.2 --count 3)
[[ $FS_VERBOSE == 1 ]] && probe_args+=(--verbose)

probe_fail()
{
	say "--- wg-probe output:"
	cat "$fs_tmp/probe.out"
	wireguard_go_log "$wgif"
	fail "$@"
}

# ping_probe TIMEOUT [PROBE ARGS]: wg-probe responds (for at most TIMEOUT
# seconds) while ping -c 3 runs in wireguard-go's namespace; both must succeed.
ping_probe()
{
	local timeout=$1 probe_pid ping_rc probe_rc i
	shift

	chat "  [$probe] $WG_PROBE responder ${probe_args[*]} --timeout $timeout $* &"
	ip netns exec "$probe" "$WG_PROBE" responder "${probe_args[@]}" --timeout "$timeout" "$@" \
		>"$fs_tmp/probe.out" 2>&1 &
	probe_pid=$!
	track "$probe_pid"
	for ((i = 0; i < 50; i++)); do
		grep -q 'listening on UDP port' "$fs_tmp/probe.out" && break
		alive "$probe_pid" || probe_fail "wg-probe ended before listening"
		sleep 0.1
	done

	say "=== ping -c 3 198.51.100.1 from wireguard-go's namespace"
	n "$wgns" ping -c 3 -i 0.2 -W "$timeout" 198.51.100.1 >"$fs_tmp/ping.out" 2>&1
	ping_rc=$?
	cat "$fs_tmp/ping.out"
	reap "$probe_pid"
	probe_rc=$?
	say "=== wg-probe's side:"
	cat "$fs_tmp/probe.out"
	if [[ $ping_rc != 0 ]] || ! grep -q ' 3 received' "$fs_tmp/ping.out"; then
		probe_fail "ping did not get 3 replies through the tunnel (status $ping_rc)"
	fi
	[[ $probe_rc == 0 ]] || probe_fail "wg-probe (responder) exited with status $probe_rc"
}

# check_wg_show: wireguard-go shows a handshake and traffic both ways.
check_wg_show()
{
	local handshake rx tx

	say "=== wireguard-go's view:"
	n "$wgns" wg show "$wgif"
	handshake=$(wg_show_field "$wgns" "$wgif" latest-handshakes "$probe_pub")
	read -r rx tx <<<"$(wg_show_field "$wgns" "$wgif" transfer "$probe_pub")"
	[[ ${handshake:-0} -gt 0 ]] || probe_fail "wg show: no handshake with $probe_pub"
	[[ ${rx:-0} -gt 0 && ${tx:-0} -gt 0 ]] ||
		probe_fail "wg show: transfer rx=${rx:-?} tx=${tx:-?} for $probe_pub, expected both nonzero"
	say "wireguard-go: handshake at $handshake (unix time), received $rx bytes, sent $tx bytes"
}

say "=== wg-probe listens on 192.0.2.1:51820; wireguard-go will initiate (no preshared key)"
ping_probe 10
check_wg_show

say "=== again, wg-probe under load: wireguard-go's first initiation gets a cookie reply"
n "$wgns" wg set "$wgif" peer "$probe_pub" remove
n "$wgns" wg set "$wgif" peer "$probe_pub" endpoint 192.0.2.1:51820 allowed-ips 198.51.100.1/32
ping_probe 15 --under-load
grep -q 'cookie reply' "$fs_tmp/probe.out" || probe_fail "wg-probe sent no cookie reply"
grep -q 'mac2 OK' "$fs_tmp/probe.out" ||
	probe_fail "wireguard-go's retry did not carry a mac2 made with our cookie"
check_wg_show

[[ $FS_VERBOSE == 1 ]] && wireguard_go_log "$wgif" brief
say "PASS: wireguard-go's handshakes, cookie reply and pings were answered by the protocol core"
exit 0
