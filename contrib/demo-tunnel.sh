#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The README's main job: a real tunnel between two network namespaces,
# flowspreadd on one side and wireguard-go (the Debian package) on the
# other, both configured with the stock `wg`. Shows `wg show` on both ends
# and a ping through the tunnel in each direction, then removes everything.
#
#   +-------------------------+            +-------------------------+
#   | fsdemo-a                |            | fsdemo-b                |
#   |  fsdemo0 (flowspreadd)  |            |  wgdemo0 (wireguard-go) |
#   |  198.51.100.1/24        |   tunnel   |  198.51.100.2/24        |
#   |  fd00:5::1/64           | <========> |  fd00:5::2/64           |
#   |  veth 192.0.2.1:51820   |------------|  veth 192.0.2.2:51821   |
#   +-------------------------+            +-------------------------+
#
# Run as root from the build directory (or set FLOWSPREADD).
set -eu

top_builddir=${top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}
FLOWSPREADD=${FLOWSPREADD:-$top_builddir/flowspreadd}
A=fsdemo-a$$ B=fsdemo-b$$
IFA=fsdemo$$ IFB=wgdemo$$
IFA=${IFA:0:15} IFB=${IFB:0:15}
pids=()
tmp=$(mktemp -d)

cleanup()
{
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	ip netns del "$A" 2>/dev/null || true
	ip netns del "$B" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

step() { printf '\n=== %s\n' "$*"; }

[ "$(id -u)" = 0 ] || { echo "demo-tunnel: run as root (namespaces, TUN)" >&2; exit 1; }
[ -x "$FLOWSPREADD" ] || { echo "demo-tunnel: $FLOWSPREADD not built: run make" >&2; exit 1; }
for tool in wg wireguard-go ip ping; do
	command -v "$tool" >/dev/null || { echo "demo-tunnel: $tool is missing: run contrib/debian-deps.sh" >&2; exit 1; }
done

step "two namespaces joined by a veth pair, 192.0.2.1 <-> 192.0.2.2"
ip netns add "$A"
ip netns add "$B"
ip link add veth0 netns "$A" type veth peer name veth0 netns "$B"
ip -n "$A" addr add 192.0.2.1/24 dev veth0
ip -n "$B" addr add 192.0.2.2/24 dev veth0
for ns in "$A" "$B"; do
	ip -n "$ns" link set lo up
	ip -n "$ns" link set veth0 up
done

step "flowspreadd $IFA in $A, wireguard-go $IFB in $B"
ip netns exec "$A" env LOG_LEVEL=verbose "$FLOWSPREADD" -f "$IFA" >"$tmp/flowspreadd.log" 2>&1 &
pids+=($!)
ip netns exec "$B" wireguard-go -f "$IFB" >"$tmp/wireguard-go.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
	[ -S "/var/run/wireguard/$IFA.sock" ] && [ -S "/var/run/wireguard/$IFB.sock" ] && break
	sleep 0.1
done

wg genkey >"$tmp/a.key"
wg genkey >"$tmp/b.key"
wg genpsk >"$tmp/psk"
pub_a=$(wg pubkey <"$tmp/a.key")
pub_b=$(wg pubkey <"$tmp/b.key")

step "configured with the stock wg: keys, ports, a preshared key, allowed IPs"
ip netns exec "$A" wg set "$IFA" private-key "$tmp/a.key" listen-port 51820 \
	peer "$pub_b" preshared-key "$tmp/psk" endpoint 192.0.2.2:51821 \
	allowed-ips 198.51.100.2/32,fd00:5::2/128
ip netns exec "$B" wg set "$IFB" private-key "$tmp/b.key" listen-port 51821 \
	peer "$pub_a" preshared-key "$tmp/psk" endpoint 192.0.2.1:51820 \
	allowed-ips 198.51.100.1/32,fd00:5::1/128
ip -n "$A" addr add 198.51.100.1/24 dev "$IFA"
ip -n "$A" addr add fd00:5::1/64 dev "$IFA" nodad
ip -n "$B" addr add 198.51.100.2/24 dev "$IFB"
ip -n "$B" addr add fd00:5::2/64 dev "$IFB" nodad
ip -n "$A" link set "$IFA" up
ip -n "$B" link set "$IFB" up

step "ping through the tunnel, flowspreadd -> wireguard-go (IPv4 and IPv6)"
ip netns exec "$A" ping -c 3 -i 0.2 -W 2 198.51.100.2
ip netns exec "$A" ping -c 3 -i 0.2 -W 2 fd00:5::2

step "ping through the tunnel, wireguard-go -> flowspreadd"
ip netns exec "$B" ping -c 3 -i 0.2 -W 2 198.51.100.1

step "wg show $IFA (flowspreadd)"
ip netns exec "$A" wg show "$IFA"
step "wg show $IFB (wireguard-go)"
ip netns exec "$B" wg show "$IFB"

step "flowspreadd's log"
kill "${pids[0]}"
wait "${pids[0]}" || true
cat "$tmp/flowspreadd.log"
echo
echo "OK: a WireGuard tunnel between flowspreadd and wireguard-go carried IPv4 and IPv6 pings both ways."
