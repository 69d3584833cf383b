#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A UAPI client that pipelines get=1 and never reads its answers must not
# grow the daemon's memory, nor keep other clients or handshakes waiting.
# A python client sends up to 400000 get=1 on one connection without
# reading (non-blocking, until the daemon stops reading from it: its
# socket stays unwritable for 2 s) and stays connected. Then:
#  - another client's `wg show' answers (its latency is printed);
#  - a handshake with wireguard-go through the daemon completes and a
#    ping goes through;
#  - the daemon's VmRSS grew by less than 32 MiB;
#  - the hostile client could send only a small part of its requests.
#
#  +-----------------------------------+      +-----------------------------------+
#  | fsns$$-a                          |      | fsns$$-b                          |
#  |  flowspreadd wgfs$$0 :51820       |      |  wireguard-go wgfs$$1 :51821      |
#  |    198.51.100.1/24                |      |    198.51.100.2/24                |
#  |  hostile UAPI client              |      |                                   |
#  |  veth0 192.0.2.1/24 --------------+------+------------- veth0 192.0.2.2/24   |
#  +-----------------------------------+      +-----------------------------------+

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon python3

bound_kib=$((32 * 1024))
requests=400000

two_hosts 192.0.2.1/24 192.0.2.2/24
two_daemons flowspreadd_start wggo_start
n "$a" wg set "$aif" private-key "$fs_tmp/a.key" listen-port 51820 \
	peer "$b_pub" endpoint 192.0.2.2:51821 allowed-ips 198.51.100.2/32
n "$b" wg set "$bif" private-key "$fs_tmp/b.key" listen-port 51821 \
	peer "$a_pub" endpoint 192.0.2.1:51820 allowed-ips 198.51.100.1/32
tunnel_up "$a" "$aif" 198.51.100.1/24
tunnel_up "$b" "$bif" 198.51.100.2/24

pid=${fs_daemon_pid[$aif]}
rss() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$pid/status"; }
rss_before=$(rss)

say "=== a client pipelines $requests get=1 and never reads"
python3 - "/var/run/wireguard/$aif.sock" "$requests" "$fs_tmp/hostile" <<-'EOF' &
	import os, select, socket, sys, time
	path, total, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
	s = socket.socket(socket.AF_UNIX)
	s.connect(path)
	s.setblocking(False)
	data = b'get=1\n\n' * total
	sent = 0
	while sent < len(data):
	    try:
	        sent += s.send(data[sent:sent + 65536])
	    except BlockingIOError:
	        # Unwritable for 2 s: the daemon no longer reads from us.
	        if not select.select([], [s], [], 2)[1]:
	            break
	with open(out + '.tmp', 'w') as f:
	    f.write('%d\n' % (sent // 7))
	os.rename(out + '.tmp', out)
	while True:
	    time.sleep(60)
	EOF
track $!
until_true 600 test -e "$fs_tmp/hostile" || fail "the hostile client never finished sending"
read -r hostile_sent <"$fs_tmp/hostile"
say "the client got $hostile_sent of $requests requests sent; VmRSS ${rss_before} KiB before, $(rss) KiB now"

say "=== another client's wg show answers"
start=$(date +%s%N)
n "$a" wg show "$aif" >/dev/null || fail "wg show $aif failed while the hostile client is connected"
say "wg show answered in $((($(date +%s%N) - start) / 1000000)) ms"

say "=== a handshake through the daemon completes"
ping_all "$a" 198.51.100.2 3
wg_show_handshake "$a" "$aif" "$b_pub"
wg_show_handshake "$b" "$bif" "$a_pub"

rss_after=$(rss)
growth=$((rss_after - rss_before))
say "VmRSS ${rss_before} KiB before, ${rss_after} KiB after: grew by ${growth} KiB (bound ${bound_kib} KiB)"
((growth < bound_kib)) || fail "flowspreadd grew by ${growth} KiB for one client that does not read"
((hostile_sent < requests)) ||
	fail "the daemon read all $requests requests of a client that reads no answers"
alive "$pid" || fail "flowspreadd died"
say "PASS: a client that never reads is no longer read from; others and handshakes are served"
exit 0
