#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 100,000 peers, and a set that runs out of memory.
#
# Key material comes from the secure pool, whose mappings grow per chunk of
# many objects, not per peer (vm.max_map_count is 65530; one sodium_malloc
# per peer stopped near 16,000 peers). One set of 100,000 peers (random
# public keys, one allowed IP each) answers errno=0 and `get' lists them
# all; a replace_peers with 100,000 others, the wireguard-go peer among
# them, answers errno=0, `get' lists only the new ones, and the tunnel to
# wireguard-go handshakes and pings. The daemon's mappings stay under 2000
# throughout; its memory per peer is printed.
#
# Then a second flowspreadd whose key memory is limited (--key-memory 2M):
# a set of 20,000 peers cannot have them all. It answers errno=-12 (ENOMEM),
# with the reason in an error= line before it,
# and changes nothing: `get' is byte for byte what it was. The daemon goes
# on: replace_peers works, and so does a later valid set.
#
#  +-------------------------------+        +--------------------------+
#  | fsns$$-a                      |        | fsns$$-b                 |
#  |  flowspreadd wgfs$$0 10.9.0.1 |        |  wireguard-go wgfs$$1    |
#  |  (100,000 peers)              |        |  10.9.0.2                |
#  |  flowspreadd wgfs$$2 (limited)|        |                          |
#  |  veth0 192.0.2.1/24 ----------+--------+- veth0 192.0.2.2/24      |
#  +-------------------------------+        +--------------------------+

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon python3 wireguard-go

peers=100000
max_maps=2000

two_hosts 192.0.2.1/24 192.0.2.2/24
wg_ifname; aif=$REPLY
wg_ifname; bif=$REPLY
wg_ifname; cif=$REPLY
flowspreadd_start "$a" "$aif"
wggo_start "$b" "$bif"
keypair fs; fs_pub=$REPLY
keypair go; go_pub=$REPLY
hex() { base64 -d <<<"$1" | od -An -tx1 | tr -d ' \n'; }

# uapi IFNAME REQUEST-FILE: sends the request, prints the whole answer
# (a 100,000-peer request takes a while under the sanitizers).
uapi()
{
	python3 - "/var/run/wireguard/$1.sock" "$2" <<-'EOF' || fail "UAPI exchange with $1 failed"
	import socket, sys
	s = socket.socket(socket.AF_UNIX)
	s.settimeout(600)
	s.connect(sys.argv[1])
	s.sendall(open(sys.argv[2], 'rb').read())
	got = b''
	while not (got.endswith(b'\n\n') and b'errno=' in got[-16:]):
	    more = s.recv(1 << 20)
	    if not more:
	        break
	    got += more
	sys.stdout.buffer.write(got)
	EOF
}

# request FILE N FIRST [LINE...]: a set of N peers with random keys, the
# i-th with allowed IP fd00:FIRST+i::/64 (hex), after the LINEs.
request()
{
	python3 - "$@" <<-'EOF'
	import os, sys
	path, n, first, head = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
	with open(path, 'w') as f:
	    f.write('set=1\n' + ''.join(l + '\n' for l in head))
	    for i in range(first, first + n):
	        f.write('public_key=%s\nallowed_ip=fd00:%x:%x::/64\n'
	                % (os.urandom(32).hex(), i >> 16, i & 0xffff))
	    f.write('\n')
	EOF
}

get() { printf 'get=1\n\n' >"$fs_tmp/get"; uapi "$1" "$fs_tmp/get"; }
count_peers() { grep -c '^public_key=' || true; }
maps() { wc -l <"/proc/${fs_daemon_pid[$1]}/maps"; }
rss_kib() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/${fs_daemon_pid[$1]}/status"; }

check_maps()
{
	local m
	m=$(maps "$1")
	say "$2: $m mappings"
	((m < max_maps)) || fail "$2: $m mappings, expected fewer than $max_maps"
}

rss0=$(rss_kib "$aif")
request "$fs_tmp/set1" "$peers" 0 "private_key=$(hex "$(cat "$fs_tmp/fs.key")")" listen_port=51820
answer=$(uapi "$aif" "$fs_tmp/set1")
[[ $answer == "errno=0" ]] || fail "a set of $peers peers: expected errno=0, got: $answer"
n=$(get "$aif" | count_peers)
((n == peers)) || fail "get lists $n peers, expected $peers"
rss1=$(rss_kib "$aif")
say "$peers peers: VmRSS $rss0 -> $rss1 KiB, $(((rss1 - rss0) * 1024 / peers)) bytes per peer"
check_maps "$aif" "$peers peers"

# replace_peers: 100,000 others, wireguard-go among them.
request "$fs_tmp/set2" $((peers - 1)) "$peers" replace_peers=true \
	"public_key=$(hex "$go_pub")" endpoint=192.0.2.2:51821 allowed_ip=10.9.0.2/32
answer=$(uapi "$aif" "$fs_tmp/set2")
[[ $answer == "errno=0" ]] || fail "replace_peers with $peers others: expected errno=0, got: $answer"
get "$aif" >"$fs_tmp/get2"
n=$(count_peers <"$fs_tmp/get2")
((n == peers)) || fail "after replace_peers get lists $n peers, expected $peers"
grep -q "^public_key=$(head -c 200 "$fs_tmp/set1" | sed -n 's/^public_key=//p')" "$fs_tmp/get2" &&
	fail "a peer of the first set is still there after replace_peers"
grep -c '^allowed_ip=fd00:1:' "$fs_tmp/get2" >/dev/null ||
	fail "the allowed IPs of the second set are missing"
check_maps "$aif" "after replace_peers"

tunnel_up "$a" "$aif" 10.9.0.1/24
n "$b" wg set "$bif" private-key "$fs_tmp/go.key" listen-port 51821 \
	peer "$fs_pub" endpoint 192.0.2.1:51820 allowed-ips 10.9.0.1/32 ||
	fail "cannot configure wireguard-go"
tunnel_up "$b" "$bif" 10.9.0.2/24
# The first ping waits for the handshake (the control thread walks 100,000
# peers' timers after each event, slow under the sanitizers).
until_true 60 n "$a" ping -n -c 1 -W 1 10.9.0.2 >/dev/null || fail "no handshake with wireguard-go"
ping_all "$a" 10.9.0.2
ping_all "$b" 10.9.0.1
check_maps "$aif" "after the handshake"

# Out of key memory half way: nothing changes.
flowspreadd_start "$a" "$cif" --key-memory 2M
request "$fs_tmp/small" 1000 0 "private_key=$(hex "$(cat "$fs_tmp/fs.key")")"
answer=$(uapi "$cif" "$fs_tmp/small")
[[ $answer == "errno=0" ]] || fail "1000 peers within --key-memory 2M: expected errno=0, got: $answer"
get "$cif" >"$fs_tmp/before"
request "$fs_tmp/big" 20000 1000 fwmark=7 listen_port=51830
answer=$(uapi "$cif" "$fs_tmp/big")
[[ $answer == $'error=out of memory for peer '*$'\nerrno=-12' ]] ||
	fail "20000 more peers beyond --key-memory 2M: expected error=out of memory... and errno=-12, got: $answer"
get "$cif" >"$fs_tmp/after"
cmp -s "$fs_tmp/before" "$fs_tmp/after" ||
	fail "a set that ran out of memory changed the device: $(diff "$fs_tmp/before" "$fs_tmp/after" | head -n 5)"
grep -q "out of memory for peer" "$fs_tmp/$cif.log" ||
	fail "the log does not say which peer ran out of memory"
request "$fs_tmp/replace" 500 30000 replace_peers=true
answer=$(uapi "$cif" "$fs_tmp/replace")
[[ $answer == "errno=0" ]] || fail "replace_peers after the failed set: expected errno=0, got: $answer"
n=$(get "$cif" | count_peers)
((n == 500)) || fail "after replace_peers get lists $n peers, expected 500"
request "$fs_tmp/more" 100 40000
answer=$(uapi "$cif" "$fs_tmp/more")
[[ $answer == "errno=0" ]] || fail "a later valid set: expected errno=0, got: $answer"
n=$(get "$cif" | count_peers)
((n == 600)) || fail "get lists $n peers, expected 600"
alive "${fs_daemon_pid[$cif]}" || fail "the limited daemon died"
say "PASS"
