#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Garbage on the wire is counted and dropped, never a crash: with a tunnel
# up between two flowspreadd, A's namespace sends B's port, from a plain
# UDP socket, datagrams of every kind of wrong: unknown message types,
# empty ones, handshake types with wrong lengths, data messages for
# receiver indices B never gave out, full-length initiations of random
# bytes (bad mac1) and datagrams larger than B's receive buffers. The
# tunnel keeps working throughout, B exits cleanly, and its drop counters
# match what was sent, class by class.
#
#  +------------------------------+      +------------------------------+
#  | fsns$$-a                     |      | fsns$$-b                     |
#  |  flowspreadd wgfs$$0         |      |  flowspreadd wgfs$$1         |
#  |    198.51.100.1/24           |      |    198.51.100.2/24, :51821   |
#  |  python3: garbage -----------+------+--> 192.0.2.2:51821           |
#  |  veth0 192.0.2.1/24 ---------+------+---------- veth0 192.0.2.2/24 |
#  +------------------------------+      +------------------------------+

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon python3

two_hosts 192.0.2.1/24 192.0.2.2/24

two_daemons flowspreadd_start flowspreadd_start
n "$b" wg set "$bif" private-key "$fs_tmp/b.key" listen-port 51821 \
	peer "$a_pub" allowed-ips 198.51.100.1/32 || fail "wg set $bif failed"
n "$a" wg set "$aif" private-key "$fs_tmp/a.key" listen-port 51820 \
	peer "$b_pub" endpoint 192.0.2.2:51821 allowed-ips 198.51.100.2/32 ||
	fail "wg set $aif failed"
tunnel_up "$a" "$aif" 198.51.100.1/24
tunnel_up "$b" "$bif" 198.51.100.2/24
ping_all "$a" 198.51.100.2 3

say "=== garbage to B's port"
# Counts per class, as the script below sends them.
malformed=$((100 + 10 + 30)) unknown=50 invalid=20 truncated=10
n "$a" python3 - <<'PY' || fail "the garbage sender failed"
import os, random, socket, struct, time
random.seed(7)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
to = ('192.0.2.2', 51821)
sent = 0
def send(b):
    global sent
    s.sendto(b, to)
    sent += 1
    if sent % 20 == 0:
        time.sleep(0.005)	# stay within the receiver's socket buffer
for _ in range(100):		# unknown message types
    send(bytes([random.randrange(5, 256)]) + os.urandom(random.randrange(0, 300)))
for _ in range(10):		# empty datagrams
    send(b'')
for t, n in ((1, 147), (1, 149), (2, 91), (2, 93), (3, 63), (3, 65)) * 5:
    send(struct.pack('<I', t) + os.urandom(n - 4))	# handshake types, wrong lengths
for _ in range(50):		# data messages for indices B never gave out
    send(struct.pack('<II', 4, random.getrandbits(32)) + os.urandom(random.randrange(24, 1400)))
for _ in range(20):		# initiations of random bytes: mac1 fails
    send(struct.pack('<I', 1) + os.urandom(144))
for _ in range(10):		# larger than B's receive buffers (IP fragments on the veth)
    send(struct.pack('<I', 4) + os.urandom(6000))
print(f"sent {sent} datagrams")
PY

say "=== the tunnel still works"
ping_all "$a" 198.51.100.2 3
n "$b" wg show "$bif"

daemon_stop "$bif" || fail "flowspreadd B exited with status $?"
grep 'dropped:' "$fs_tmp/$bif.log"
check()
{
	local what=$1 want=$2 got

	got=$(drop_count "$bif" "$what")
	[[ $got == "$want" ]] || fail "B counted ${got:-no} datagrams as \"$what\", expected $want"
}
check malformed "$malformed"
check 'unknown index' "$unknown"
check 'invalid handshake' "$invalid"
check truncated "$truncated"
say "PASS: $((malformed + unknown + invalid + truncated)) garbage datagrams counted and dropped by class; the tunnel kept working"
exit 0
