#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The protocol core initiates: wg-probe does a WireGuard handshake with
# wireguard-go (with a preshared key) and pings through the tunnel, over an
# IPv4 outer path, then once more over IPv6 (wireguard-go roams to it), and
# once more with wireguard-go pushed under load by a flood of initiations
# from an unknown key, so that it answers with a cookie reply and our retry
# must carry a valid mac2.
#
#  +-----------------------------------+      +-----------------------------------+
#  | fsns$$-probe                      |      | fsns$$-wg                         |
#  |                                   |      |                                   |
#  |  wg-probe initiator (no TUN)      |      |  wireguard-go, interface wgfs$$0  |
#  |    inner 198.51.100.1             |      |    198.51.100.2/24, UDP 51820     |
#  |                                   |      |    peer: the probe's key + PSK,   |
#  |                                   |      |    allowed-ips 198.51.100.1/32    |
#  |                                   |      |                                   |
#  |  veth0 192.0.2.1/24  -------------+------+------------ veth0 192.0.2.2/24    |
#  |        2001:db8::1/64             |      |                  2001:db8::2/64   |
#  +-----------------------------------+      +-----------------------------------+
#
#  -> initiation, <- response, -> ICMP echo request 198.51.100.1 > .2 (encrypted);
#  the kernel in fsns$$-wg answers through wireguard-go: <- ICMP echo reply.
#  Under load: -> 2000 junk initiations, -> initiation, <- cookie reply,
#  -> initiation with mac2, <- response, ...

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_netns

ns_create probe; probe=$REPLY
ns_create wg; wgns=$REPLY
veth_pair "$probe" "$wgns"
ip -n "$probe" addr add 192.0.2.1/24 dev veth0
ip -n "$probe" addr add 2001:db8::1/64 dev veth0 nodad
ip -n "$wgns" addr add 192.0.2.2/24 dev veth0
ip -n "$wgns" addr add 2001:db8::2/64 dev veth0 nodad

keypair probe; probe_pub=$REPLY
keypair wg; wg_pub=$REPLY
wg genpsk >"$fs_tmp/psk"

wg_ifname; wgif=$REPLY
wireguard_go_start "$wgns" "$wgif"
n "$wgns" wg set "$wgif" private-key "$fs_tmp/wg.key" listen-port 51820 \
	peer "$probe_pub" preshared-key "$fs_tmp/psk" allowed-ips 198.51.100.1/32 ||
	fail "wg set on wireguard-go failed"
n "$wgns" ip addr add 198.51.100.2/24 dev "$wgif"
n "$wgns" ip link set "$wgif" up

probe_args=(--private-key "$fs_tmp/probe.key" --peer-public "$wg_pub"
	--preshared-key "$fs_tmp/psk" --inner-src 198.51.100.1 --inner-dst 198.51.100.2
	--timeout 10)
verbose=()
[[ $FS_VERBOSE == 1 ]] && verbose=(--verbose)

probe_fail()
{
	wireguard_go_log "$wgif"
	fail "$@"
}

say "=== wg-probe initiates to wireguard-go at 192.0.2.2:51820 (preshared key)"
n "$probe" "$WG_PROBE" initiator --endpoint 192.0.2.2:51820 --count 3 \
	"${probe_args[@]}" "${verbose[@]}" ||
	probe_fail "wg-probe (initiator, IPv4) exited with status $?"

say "=== wireguard-go's view:"
n "$wgns" wg show "$wgif"
handshake=$(wg_show_field "$wgns" "$wgif" latest-handshakes "$probe_pub")
read -r rx tx <<<"$(wg_show_field "$wgns" "$wgif" transfer "$probe_pub")"
[[ ${handshake:-0} -gt 0 ]] || probe_fail "wg show: no handshake with $probe_pub"
[[ ${rx:-0} -gt 0 && ${tx:-0} -gt 0 ]] ||
	probe_fail "wg show: transfer rx=${rx:-?} tx=${tx:-?} for $probe_pub, expected both nonzero"
say "wireguard-go: handshake at $handshake (unix time), received $rx bytes, sent $tx bytes"

say "=== again over IPv6: wg-probe initiates to [2001:db8::2]:51820"
n "$probe" "$WG_PROBE" initiator --endpoint '[2001:db8::2]:51820' \
	"${probe_args[@]}" "${verbose[@]}" ||
	probe_fail "wg-probe (initiator, IPv6) exited with status $?"
endpoint=$(wg_show_field "$wgns" "$wgif" endpoints "$probe_pub")
[[ $endpoint == \[2001:db8::1\]:* ]] ||
	probe_fail "wg show: endpoint is $endpoint, expected wireguard-go to roam to [2001:db8::1]:PORT"
say "wireguard-go roamed to the probe's IPv6 endpoint $endpoint"

say "=== again with wireguard-go under load (a flood of initiations from an unknown key)"
# Not --verbose: it would list every cookie reply to the junk.
n "$probe" "$WG_PROBE" initiator --endpoint 192.0.2.2:51820 --flood 2000 "${probe_args[@]}" \
	>"$fs_tmp/probe.out" 2>&1
rc=$?
cat "$fs_tmp/probe.out"
[[ $rc == 0 ]] || probe_fail "wg-probe (initiator, under load) exited with status $rc"
if grep -q 'with mac2 from the cookie' "$fs_tmp/probe.out"; then
	say "wireguard-go's cookie reply was decrypted and our mac2 accepted"
else
	# A host fast enough to drain 2000 initiations leaves it unloaded.
	say "NOTE: the flood did not put wireguard-go under load; cookie replies not exercised"
fi

[[ $FS_VERBOSE == 1 ]] && wireguard_go_log "$wgif" brief
say "PASS: the protocol core's handshake and data messages interoperate with wireguard-go"
exit 0
