#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Source spreading (docs/spreading.md): with a local /64 configured, each
# inner flow leaves from its own address of the prefix, so N inner flows
# are N distinct outer flows on the wire (tcpdump on B's side), and a
# stock wireguard-go peer keeps working: it answers each datagram's
# source, which the prefix guard delivers to flowspreadd's sockets.
# Inner flows: 8 UDP flows (distinct source ports), then ping and TCP.
#
#  +----------------------------------+      +----------------------------------+
#  | fsns$$-a                         |      | fsns$$-b                         |
#  |  flowspreadd wgfs$$0             |      |  wireguard-go wgfs$$1            |
#  |    198.51.100.1/24               |      |    198.51.100.2/24, :51821       |
#  |    spread_prefix 2001:db8:ff::/64|      |    route 2001:db8:ff::/64        |
#  |                                  |      |      via 2001:db8:1::1           |
#  |  veth0 2001:db8:1::1/64 ---------+------+--------- veth0 2001:db8:1::2/64 |
#  +----------------------------------+      +----------------------------------+

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon tcpdump python3 iperf3

flows=8
two_hosts 2001:db8:1::1/64 2001:db8:1::2/64
ip -n "$b" -6 route add 2001:db8:ff::/64 via 2001:db8:1::1

two_daemons flowspreadd_start wggo_start
n "$a" wg set "$aif" private-key "$fs_tmp/a.key" listen-port 51820 \
	peer "$b_pub" endpoint '[2001:db8:1::2]:51821' allowed-ips 198.51.100.2/32 ||
	fail "wg set $aif failed"
n "$a" "$top_builddir/flowspreadctl" set "$aif" spread-prefix 2001:db8:ff::/64 spread-pairs 65536 ||
	fail "flowspreadctl set spread-prefix failed"
n "$b" wg set "$bif" private-key "$fs_tmp/b.key" listen-port 51821 \
	peer "$a_pub" allowed-ips 198.51.100.1/32 || fail "wg set $bif failed"
tunnel_up "$a" "$aif" 198.51.100.1/24
tunnel_up "$b" "$bif" 198.51.100.2/24

say "=== the tunnel works with a stock peer"
ping_all "$a" 198.51.100.2 3

# Inner UDP datagrams of 100 bytes: 128-byte IPv4 packets, 160-byte data messages.
# A burst of one flow may leave as one UDP GSO send: the veth carries it
# unsegmented, one packet whose UDP payload is k * 160 bytes (tcpdump
# prints that sum). Count datagrams, not packets.
capture_start wire "$b" 'ip6 and udp dst port 51821 and ip6[4:2] > 8 and (ip6[4:2] - 8) % 160 = 0'
# per_source: "COUNT SOURCE" per outer source, in datagrams.
per_source()
{
	tcpdump -n -r "$fs_tmp/wire.pcap" 2>/dev/null |
		awk '{ sub(/\.[0-9]*$/, "", $3); n[$3] += $NF / 160 } END { for (s in n) print n[s], s }'
}
all_there() { (($(per_source | awk '{ t += $1 } END { print t + 0 }') >= flows * 5)); }

say "=== $flows inner UDP flows"
n "$a" python3 - "$flows" <<'PY' || fail "the flow sender failed"
import socket, sys, time
for i in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('198.51.100.1', 40001 + i))
    for _ in range(5):
        s.sendto(b'x' * 100, ('198.51.100.2', 9000))
        time.sleep(0.01)
    s.close()
PY
until_true 30 all_there || say "fewer than $((flows * 5)) datagrams captured after 30 s"
capture_stop wire
per_source >"$fs_tmp/per-source"
sources=$(awk '{print $2}' "$fs_tmp/per-source" | sort)
say "outer sources seen by B:"
say "$sources"
count=$(grep -c . <<<"$sources")
[[ $count == "$flows" ]] || fail "$flows inner flows left from $count outer addresses, expected $flows"
while read -r src; do
	[[ $src == 2001:db8:ff:* ]] || fail "outer source $src is not in the spread prefix"
done <<<"$sources"
per_flow=$(awk '{print $1}' "$fs_tmp/per-source" | sort -u)
[[ $per_flow == 5 ]] || fail "a flow's datagrams left from more than one address: counts $per_flow"

say "=== the stock peer answers each source: ping and TCP"
ping_all "$a" 198.51.100.2 5
ip netns exec "$b" iperf3 -s -1 -B 198.51.100.2 >"$fs_tmp/iperf.server" 2>&1 &
server=$!
track "$server"
wait_tcp_listen "$b" 5201
n "$a" iperf3 -c 198.51.100.2 -t 3 -J >"$fs_tmp/iperf.json" || fail "iperf3 through the tunnel failed"
reap "$server" || fail "the iperf3 server exited with status $?: $(cat "$fs_tmp/iperf.server")"
mbps=$(python3 -c "import json,sys;print(int(json.load(open(sys.argv[1]))['end']['sum_received']['bits_per_second']/1e6))" "$fs_tmp/iperf.json")
((mbps > 0)) || fail "TCP moved nothing"
say "TCP: $mbps Mbit/s"
n "$b" wg show "$bif"

daemon_stop "$aif" || fail "flowspreadd exited with status $?"
say "PASS: $flows inner flows left from $flows addresses of 2001:db8:ff::/64; wireguard-go kept working"
exit 0
