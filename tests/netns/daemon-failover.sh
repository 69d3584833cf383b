#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Failover through the bounded endpoint table (docs/spreading.md): A knows B
# by its `endpoint` on path 1 (IPv4) and an `endpoint_alt` on path 2
# (IPv6). Traffic flows on path 1. Path 1 dies: A's data goes unanswered,
# its handshake through the endpoint times out, the next one goes through
# the alternate, completes, and traffic continues on path 2. Path 1
# returns and path 2 dies: the same way back to the endpoint. A's UAPI
# shows the table throughout (endpoint_count, endpoint_state).
#
#  +------------------------------+      +------------------------------+
#  | fsns$$-a                     |      | fsns$$-b                     |
#  |  flowspreadd wgfs$$0         |      |  flowspreadd wgfs$$1         |
#  |    198.51.100.1/24           |      |    198.51.100.2/24, :51821   |
#  |    peer B: endpoint          |      |    peer A: no endpoint       |
#  |      192.0.2.2:51821,        |      |    (learns it)               |
#  |      alt [2001:db8:2::2]:51821      |                              |
#  |  veth0 192.0.2.1/24 ---------+------+----------- veth0 192.0.2.2  |  path 1
#  |  veth1 2001:db8:2::1/64 -----+------+---- veth1 2001:db8:2::2/64  |  path 2
#  +------------------------------+      +------------------------------+

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon

two_hosts 192.0.2.1/24 192.0.2.2/24
ip link add veth1 netns "$a" type veth peer name veth1 netns "$b" || fail "cannot create the second veth"
ip -n "$a" link set veth1 up
ip -n "$b" link set veth1 up
ip -n "$a" addr add 2001:db8:2::1/64 dev veth1 nodad
ip -n "$b" addr add 2001:db8:2::2/64 dev veth1 nodad

two_daemons flowspreadd_start flowspreadd_start
n "$b" wg set "$bif" private-key "$fs_tmp/b.key" listen-port 51821 \
	peer "$a_pub" allowed-ips 198.51.100.1/32 || fail "wg set $bif failed"
n "$a" wg set "$aif" private-key "$fs_tmp/a.key" listen-port 51820 \
	peer "$b_pub" endpoint 192.0.2.2:51821 allowed-ips 198.51.100.2/32 ||
	fail "wg set $aif failed"
n "$a" "$top_builddir/flowspreadctl" set "$aif" peer "$b_pub" alt-endpoint '[2001:db8:2::2]:51821' ||
	fail "flowspreadctl set alt-endpoint failed"
tunnel_up "$a" "$aif" 198.51.100.1/24
tunnel_up "$b" "$bif" 198.51.100.2/24

table() { printf 'get=1\n\n' | uapi_raw "$aif" | grep '^endpoint_'; }
endpoint_of_a() { n "$b" wg show "$bif" endpoints | awk '{print $2}'; }
answered() { n "$a" ping -n -c 1 -W 1 198.51.100.2 >/dev/null 2>&1; }

say "=== path 1: traffic through the endpoint"
ping_all "$a" 198.51.100.2 3
table | tee "$fs_tmp/t1"
grep -q '^endpoint_count=2$' "$fs_tmp/t1" || fail "expected 2 entries (endpoint and alt)"
grep -q '^endpoint_state=192.0.2.2:51821,configured,[0-9]*,[0-9]*,active$' "$fs_tmp/t1" ||
	fail "the endpoint is not active and confirmed with an RTT"
grep -q '^endpoint_state=\[2001:db8:2::2\]:51821,alt,-,-,untried$' "$fs_tmp/t1" ||
	fail "the alternate is not listed as untried"
[[ $(endpoint_of_a) == 192.0.2.1:51820 ]] || fail "B reaches A at $(endpoint_of_a), not on path 1"

say "=== path 1 dies: A fails over to the alternate"
ip -n "$b" link set veth0 down
start=$(date +%s)
# Keep data flowing so that A notices (new-handshake timer), then wait.
until_true 60 answered || fail "no traffic after 60 s without path 1; table: $(table | tr '\n' ' ')"
say "traffic again after $(($(date +%s) - start)) s"
ping_all "$a" 198.51.100.2 3
table | tee "$fs_tmp/t2"
grep -q '^endpoint_state=\[2001:db8:2::2\]:51821,alt,[0-9]*,[0-9]*,active$' "$fs_tmp/t2" ||
	fail "the alternate is not active after failover"
grep -q '^endpoint_state=192.0.2.2:51821,configured,.*,failed$' "$fs_tmp/t2" ||
	fail "the endpoint is not marked failed"
n "$a" "$top_builddir/flowspreadctl" endpoints "$aif" "$b_pub" | tee "$fs_tmp/e2"
grep -Eq '^  \* \[2001:db8:2::2\]:51821 +alt +[0-9.]+ m?s ago +[0-9.]+ [um]s +active$' "$fs_tmp/e2" ||
	fail "flowspreadctl endpoints does not mark the active alternate current"
[[ $(endpoint_of_a) == "[2001:db8:2::1]:51820" ]] || fail "B reaches A at $(endpoint_of_a), not on path 2"

say "=== path 1 back, path 2 dies: back to the endpoint"
ip -n "$b" link set veth0 up
ip -n "$b" link set veth1 down
start=$(date +%s)
until_true 60 answered || fail "no traffic after 60 s without path 2; table: $(table | tr '\n' ' ')"
say "traffic again after $(($(date +%s) - start)) s"
ping_all "$a" 198.51.100.2 3
table | tee "$fs_tmp/t3"
grep -q '^endpoint_state=192.0.2.2:51821,configured,[0-9]*,[0-9]*,active$' "$fs_tmp/t3" ||
	fail "the endpoint is not active again"
[[ $(endpoint_of_a) == 192.0.2.1:51820 ]] || fail "B reaches A at $(endpoint_of_a), not on path 1"

daemon_stop "$aif" || fail "flowspreadd A exited with status $?"
daemon_stop "$bif" || fail "flowspreadd B exited with status $?"
say "PASS: A failed over from its endpoint to endpoint_alt and back as the paths died"
exit 0
