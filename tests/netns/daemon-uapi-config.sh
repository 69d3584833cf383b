#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Extension settings through the UAPI of a running flowspreadd:
#  - an empty value clears each of them (device spread_prefix, spread_mode,
#    spread_ports, spread_pairs, endpoint_limit, steer, steer_qdisc; peer
#    endpoint_alt, spread_prefix, spread_ports): get=1 no longer shows them,
#    the port sockets are closed and the reserved ports given back; an
#    empty value followed by items replaces the list;
#  - spread prefixes that overlap (the device's and a peer's, two peers'
#    in one set) or that no host can use (multicast, link-local, loopback,
#    the default route) are refused with a reason naming them, on an
#    error= line before errno=-22, and change nothing;
#  - `wg set' refused by the daemon still reports the errno (Invalid
#    argument) with the error= line in the answer.
#
#  +-------------------------------+
#  | fsns$$-a                      |
#  |  flowspreadd wgfs$$0          |
#  +-------------------------------+

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon python3

ns_create a; a=$REPLY
wg_ifname; aif=$REPLY
flowspreadd_start "$a" "$aif"

hex() { base64 -d <<<"$1" | od -An -v -tx1 | tr -d ' \n'; }
keypair a
keypair p; p=$(hex "$REPLY")
keypair q; q=$(hex "$REPLY")
get() { printf 'get=1\n\n' | uapi_raw "$aif"; }
# set BODY: the answer to set=1 with BODY (\n between lines).
set_raw() { printf 'set=1\n%b\n\n' "$1" | uapi_raw "$aif"; }
reserved() { ip netns exec "$a" cat /proc/sys/net/ipv4/ip_local_reserved_ports; }
sockets() { ss -N "$a" -uanH "sport >= :$1 and sport <= :$2" | wc -l; }

say "=== set every extension key"
answer=$(set_raw "private_key=$(hex "$(cat "$fs_tmp/a.key")")\nlisten_port=51820\nspread_prefix=2001:db8:a0::/64\nspread_mode=both\nspread_ports=40000-40003\nspread_pairs=64\nendpoint_limit=4\nsteer=on\nsteer_qdisc=1:\npublic_key=$p\nendpoint=[2001:db8:1::2]:51821\nendpoint_alt=192.0.2.7:51821\nspread_prefix=2001:db8:b0::/64\nspread_ports=41000-41001\nallowed_ip=198.51.100.2/32")
[[ $answer == errno=0 ]] || fail "setting the extension keys answered \"$answer\""
get >"$fs_tmp/set"
for line in spread_prefix=2001:db8:a0::/64 spread_mode=both spread_ports=40000-40003 \
	spread_pairs=64 endpoint_limit=4 steer=on steer_qdisc=1: endpoint_alt=192.0.2.7:51821 \
	spread_prefix=2001:db8:b0::/64 spread_ports=41000-41001; do
	grep -q "^$line" "$fs_tmp/set" || fail "get=1 lacks $line"
done
(($(sockets 40000 40003) == 4)) || fail "expected 4 UDP sockets on 40000-40003, got $(sockets 40000 40003)"
[[ $(reserved) == *40000-40003* ]] || fail "40000-40003 not reserved: $(reserved)"
say "set: 4 port sockets, reserved ports \"$(reserved)\""

say "=== refused: a reason naming the prefixes, errno=-22, nothing changed"
bad=(
	"spread_prefix=2001:db8:b0::/64|spread_prefix 2001:db8:b0::/64 of peer"
	"public_key=$q\nspread_prefix=2001:db8:a0::/80|spread_prefix 2001:db8:a0::/80 of peer"
	"public_key=$q\nspread_prefix=2001:db8:b0:0:1::/80|spread_prefix 2001:db8:b0:0:1::/80 of peer"
	"public_key=$p\nspread_prefix=2001:db8:c0::/64\npublic_key=$q\nspread_prefix=2001:db8:c0::/64|spread_prefix 2001:db8:c0::/64 of peer"
	"spread_prefix=ff02::/64|invalid spread_prefix ff02::/64 holds multicast"
	"spread_prefix=::/0|invalid spread_prefix ::/0 is the default route"
	"spread_prefix=0.0.0.0/0|invalid spread_prefix 0.0.0.0/0 is the default route"
	"spread_prefix=127.0.0.0/8|invalid spread_prefix 127.0.0.0/8 holds loopback"
	"public_key=$q\nspread_prefix=fe80::/64|invalid spread_prefix fe80::/64 holds link-local"
	"spread_prefix=::ffff:192.0.2.0/120|invalid spread_prefix ::ffff:192.0.2.0/120 holds IPv4-mapped"
)
for case in "${bad[@]}"; do
	body=${case%%|*} want=${case#*|}
	answer=$(set_raw "$body")
	[[ $answer == error=*"$want"*$'\nerrno=-22' ]] ||
		fail "set=1 \"${body//\\n/ }\" answered \"$answer\", expected error=...$want... and errno=-22"
	say "  ${answer%%$'\n'*}"
	get >"$fs_tmp/after"
	diff <(grep -v '^\(last_handshake\|endpoint_state\|spread_source\|[rt]x_bytes\)' "$fs_tmp/set") \
		<(grep -v '^\(last_handshake\|endpoint_state\|spread_source\|[rt]x_bytes\)' "$fs_tmp/after") ||
		fail "set=1 \"${body//\\n/ }\" was refused but changed the configuration"
done

say "=== wg set refused by the daemon reports the errno"
n "$a" wg set "$aif" listen-port 40001 2>"$fs_tmp/wg.err" && fail "wg set listen-port 40001 inside spread_ports succeeded"
grep -q "Invalid argument" "$fs_tmp/wg.err" || fail "wg set said \"$(cat "$fs_tmp/wg.err")\", expected Invalid argument"
say "wg set listen-port 40001: $(cat "$fs_tmp/wg.err")"

say "=== an empty value clears"
answer=$(set_raw "spread_mode=\nspread_ports=\nspread_prefix=\nspread_pairs=\nendpoint_limit=\nsteer=\nsteer_qdisc=\npublic_key=$p\nendpoint_alt=\nspread_prefix=\nspread_ports=")
[[ $answer == errno=0 ]] || fail "clearing answered \"$answer\""
get >"$fs_tmp/cleared"
for line in spread_prefix= spread_mode= spread_ports= steer_qdisc= endpoint_alt=; do
	grep -q "^$line" "$fs_tmp/cleared" && fail "get=1 still has $(grep "^$line" "$fs_tmp/cleared" | head -n 1)"
done
for line in spread_pairs=1024 endpoint_limit=8 steer=off 'endpoint=\[2001:db8:1::2\]:51821' \
	allowed_ip=198.51.100.2/32; do
	grep -q "^$line$" "$fs_tmp/cleared" || fail "get=1 lacks $line after clearing"
done
(($(sockets 40000 40003) == 0)) || fail "UDP sockets on 40000-40003 still open after clearing spread_ports"
[[ $(reserved) != *40000* ]] || fail "40000-40003 still reserved after clearing: $(reserved)"
say "cleared: no port sockets, reserved ports \"$(reserved)\"; the peer keeps its endpoint and allowed IPs"

say "=== an empty value, then items: the list is these items"
answer=$(set_raw "spread_prefix=2001:db8:a0::/64\npublic_key=$p\nendpoint_alt=192.0.2.7:1\nendpoint_alt=\nendpoint_alt=192.0.2.8:2\nspread_prefix=\nspread_prefix=2001:db8:b1::/64")
[[ $answer == errno=0 ]] || fail "replacing answered \"$answer\""
get >"$fs_tmp/replaced"
[[ $(grep -c '^endpoint_alt=' "$fs_tmp/replaced") == 1 ]] && grep -q '^endpoint_alt=192.0.2.8:2$' "$fs_tmp/replaced" ||
	fail "endpoint_alt not replaced: $(grep '^endpoint_alt=' "$fs_tmp/replaced")"
grep -q '^spread_prefix=2001:db8:b1::/64$' "$fs_tmp/replaced" && ! grep -q '^spread_prefix=2001:db8:b0::/64$' "$fs_tmp/replaced" ||
	fail "the peer's spread_prefix not replaced"

alive "${fs_daemon_pid[$aif]}" || fail "flowspreadd died"
say "PASS: empty values clear, bad prefixes are refused with their reason, wg still reads the errno"
exit 0
