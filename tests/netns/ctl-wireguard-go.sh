#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# flowspreadctl against a real wireguard-go, standard keys only: setconf,
# show, showconf, show --json, syncconf, addconf and set, each checked
# against what `wg` itself reads back from the same socket. syncconf must
# keep a live session (the handshake A made with B survives it, as with
# `wg syncconf`), while setconf replaces the peers and so drops it.
# wireguard-go refuses flowspread's extension keys with errno=-22, which
# shows that a daemon's refusal reaches the user with the interface named.
#
#  +------------------------------------+      +------------------------------------+
#  | fsns$$-a                           |      | fsns$$-b                           |
#  |                                    |      |                                    |
#  |  wireguard-go, interface wgfs$$0   |      |  wireguard-go, interface wgfs$$1   |
#  |    set up by flowspreadctl         |      |    set up by wg                    |
#  |    10.77.0.1/24, UDP 51820         |      |    10.77.0.2/24, UDP 51820         |
#  |    peers: B (PSK), D, F            |      |    peer: A                         |
#  |                                    |      |                                    |
#  |  veth0 192.0.2.1/24 ---------------+------+--------------- veth0 192.0.2.2/24  |
#  +------------------------------------+      +------------------------------------+
#
#  +------------------------------------+
#  | fsns$$-c                           |  wireguard-go wgfs$$2, no links: `wg setconf`
#  |                                    |  of the syncconf file, the state syncconf
#  +------------------------------------+  must reach on A.
#
#  ping 10.77.0.2 in fsns$$-a: -> initiation, <- response, -> echo request,
#  <- echo reply; then A's peers change under the live session.

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

FLOWSPREADCTL=${FLOWSPREADCTL:-$top_builddir/flowspreadctl}

# lib.sh's require_netns, without the wg-probe this test does not use.
require_ctl()
{
	local cmd

	[[ $(id -u) == 0 ]] || skip "needs root (network namespaces, TUN)"
	for cmd in ip wg wireguard-go ping jq; do
		command -v "$cmd" >/dev/null || skip "\`$cmd' is not installed"
	done
	[[ -c /dev/net/tun ]] || skip "/dev/net/tun is missing"
	[[ -x $FLOWSPREADCTL ]] || fail "$FLOWSPREADCTL is missing: run \`make flowspreadctl' first"
	umask 077	# keys
	fs_tmp=$(mktemp -d "${TMPDIR:-/tmp}/flowspread-netns.XXXXXX") || fail "mktemp -d failed"
	trap cleanup EXIT
	trap 'exit 1' INT TERM HUP
}

# ctl NS ARGS...: flowspreadctl in namespace NS (the socket is the same anywhere;
# the namespace matters for endpoint names only).
ctl() { local ns=$1; shift; n "$ns" "$FLOWSPREADCTL" "$@"; }

# The blank-line-separated blocks of stdin, sorted: wireguard-go lists its
# peers in no fixed order, so two reads compare equal only this way.
sort_blocks() { awk 'BEGIN { RS = ""; ORS = "\0" } { print }' | sort -z | tr '\0' '\n'; }

# same WHAT FILE1 FILE2: fails with the difference unless equal.
same()
{
	diff -u "$2" "$3" >"$fs_tmp/diff" && return 0
	cat "$fs_tmp/diff" >&2
	fail "$1 differ (above: - $2, + $3)"
}

# wg show dump's lines, made from flowspreadctl's JSON (keys shown).
json_to_dump()
{
	jq -r '
		[.private_key // "(none)", .public_key // "(none)", .listen_port,
		 (if .fwmark == 0 then "off" else "fwmark:\(.fwmark)" end)],
		(.peers[] | [.public_key,
			(if .has_preshared_key then .preshared_key else "(none)" end),
			.endpoint // "(none)",
			(if (.allowed_ips | length) > 0 then .allowed_ips | join(",") else "(none)" end),
			.latest_handshake, .rx_bytes, .tx_bytes,
			(if .persistent_keepalive == 0 then "off" else .persistent_keepalive end)])
		| map(tostring) | join("\t")'
}

# wg show dump with fwmark as json_to_dump writes it, peers sorted.
wg_dump()
{
	local ns=$1 ifname=$2 first

	n "$ns" wg show "$ifname" dump >"$fs_tmp/dump.raw" || fail "wg show $ifname dump failed"
	IFS=$'\t' read -r -a first <"$fs_tmp/dump.raw"
	[[ ${first[3]} != off ]] && first[3]=fwmark:$((first[3]))
	(IFS=$'\t'; printf '%s\n' "${first[*]}")
	tail -n +2 "$fs_tmp/dump.raw" | sort
}

ctl_dump()
{
	local ns=$1 ifname=$2

	WG_HIDE_KEYS=never ctl "$ns" show "$ifname" --json >"$fs_tmp/show.json" ||
		fail "flowspreadctl show $ifname --json failed"
	json_to_dump <"$fs_tmp/show.json" >"$fs_tmp/dump.json" || fail "jq could not read the JSON"
	head -n 1 "$fs_tmp/dump.json"
	tail -n +2 "$fs_tmp/dump.json" | sort
}

# "latest handshake: N seconds ago" without N: two reads a second apart
# differ there (show --json and wg show dump compare the time itself).
handshake_age() { sed 's/^\(  latest handshake: \).* ago$/\1(age) ago/'; }

# compare_views NS IFNAME: show, showconf and show --json agree with wg's reads.
# Counters may move between two reads (a keepalive), so a mismatch is read again.
compare_views()
{
	local ns=$1 ifname=$2 try

	for try in 1 2 3; do
		ctl "$ns" show "$ifname" | handshake_age | sort_blocks >"$fs_tmp/ctl.show" ||
			fail "flowspreadctl show failed"
		n "$ns" wg show "$ifname" | handshake_age | sort_blocks >"$fs_tmp/wg.show"
		ctl "$ns" showconf "$ifname" | sort_blocks >"$fs_tmp/ctl.conf" ||
			fail "flowspreadctl showconf failed"
		n "$ns" wg showconf "$ifname" | sort_blocks >"$fs_tmp/wg.conf"
		ctl_dump "$ns" "$ifname" >"$fs_tmp/ctl.dump"
		wg_dump "$ns" "$ifname" >"$fs_tmp/wg.dump"
		cmp -s "$fs_tmp/ctl.show" "$fs_tmp/wg.show" && cmp -s "$fs_tmp/ctl.conf" "$fs_tmp/wg.conf" &&
			cmp -s "$fs_tmp/ctl.dump" "$fs_tmp/wg.dump" && return 0
		sleep 1
	done
	same "show (flowspreadctl, wg)" "$fs_tmp/ctl.show" "$fs_tmp/wg.show"
	same "showconf (flowspreadctl, wg)" "$fs_tmp/ctl.conf" "$fs_tmp/wg.conf"
	same "show --json and wg show dump" "$fs_tmp/ctl.dump" "$fs_tmp/wg.dump"
}

# must_fail STATUS PATTERN ARGS...: flowspreadctl ARGS exits STATUS, saying PATTERN.
must_fail()
{
	local status=$1 pattern=$2 rc
	shift 2

	ctl "$ns_a" "$@" >"$fs_tmp/out" 2>"$fs_tmp/err"
	rc=$?
	[[ $rc == "$status" ]] ||
		fail "flowspreadctl $* exited with $rc, expected $status; it said: $(cat "$fs_tmp/err")"
	grep -qF -- "$pattern" "$fs_tmp/err" ||
		fail "flowspreadctl $* said \"$(cat "$fs_tmp/err")\", expected \"$pattern\""
	say "  refused as expected: $(head -n 1 "$fs_tmp/err")"
}

peer_field() { wg_show_field "$ns_a" "$if_a" "$1" "$2"; }

require_ctl

ns_create a; ns_a=$REPLY
ns_create b; ns_b=$REPLY
ns_create c; ns_c=$REPLY
veth_pair "$ns_a" "$ns_b"
ip -n "$ns_a" addr add 192.0.2.1/24 dev veth0
ip -n "$ns_b" addr add 192.0.2.2/24 dev veth0

for who in a b d e f g; do
	wg genkey >"$fs_tmp/$who.key"
	wg pubkey <"$fs_tmp/$who.key" >"$fs_tmp/$who.pub"
done
wg genpsk >"$fs_tmp/psk"
wg genpsk >"$fs_tmp/psk-f"
pub_b=$(cat "$fs_tmp/b.pub") pub_d=$(cat "$fs_tmp/d.pub") pub_e=$(cat "$fs_tmp/e.pub")
pub_f=$(cat "$fs_tmp/f.pub") pub_g=$(cat "$fs_tmp/g.pub")

wg_ifname; if_a=$REPLY
wg_ifname; if_b=$REPLY
wg_ifname; if_c=$REPLY
wireguard_go_start "$ns_a" "$if_a"
wireguard_go_start "$ns_b" "$if_b"
wireguard_go_start "$ns_c" "$if_c"

cat >"$fs_tmp/a.conf" <<EOF
# A's first configuration: every standard key, in the forms wg accepts.
[Interface]
PrivateKey = $(cat "$fs_tmp/a.key")
ListenPort = 51820
FwMark = 0x4d2

[Peer]   # B, the live one
PublicKey = $pub_b
PresharedKey = $(cat "$fs_tmp/psk")
AllowedIPs = 10.77.0.2/32
Endpoint = 192.0.2.2:51820

[peer]
publickey = $pub_d
AllowedIPs = 10.77.4.0/24, fd77:4::/64
allowedips = 10.77.44.4
Endpoint = [2001:db8::4]:4444
PersistentKeepalive = 44

[Peer]
PublicKey = $pub_f
PresharedKey = $(cat "$fs_tmp/psk-f")
AllowedIPs = 10.77.6.0/24
PersistentKeepalive = 66
EOF

say "=== flowspreadctl setconf $if_a"
ctl "$ns_a" setconf "$if_a" "$fs_tmp/a.conf" || fail "flowspreadctl setconf exited with $?"
compare_views "$ns_a" "$if_a"
[[ $(peer_field allowed-ips "$pub_d") == "10.77.4.0/24 fd77:4::/64 10.77.44.4/32" ]] ||
	fail "D's allowed IPs are \"$(peer_field allowed-ips "$pub_d")\""
[[ $(n "$ns_a" wg show "$if_a" fwmark) == 0x4d2 ]] || fail "fwmark is not 0x4d2"
ctl "$ns_a" show "$if_a"
say "show, showconf and show --json agree with wg show, wg showconf and wg show dump"

say "=== a handshake between A and B"
n "$ns_b" wg set "$if_b" private-key "$fs_tmp/b.key" listen-port 51820 \
	peer "$(cat "$fs_tmp/a.pub")" preshared-key "$fs_tmp/psk" allowed-ips 10.77.0.1/32 ||
	fail "wg set on B failed"
n "$ns_a" ip addr add 10.77.0.1/24 dev "$if_a"
n "$ns_a" ip link set "$if_a" up
n "$ns_b" ip addr add 10.77.0.2/24 dev "$if_b"
n "$ns_b" ip link set "$if_b" up
for try in 1 2 3 4 5; do
	n "$ns_a" ping -c 1 -W 2 10.77.0.2 >/dev/null && break
	[[ $try == 5 ]] && { wireguard_go_log "$if_a"; fail "no ping through A to B"; }
done
handshake=$(peer_field latest-handshakes "$pub_b")
read -r rx tx <<<"$(peer_field transfer "$pub_b")"
[[ ${handshake:-0} -gt 0 ]] || fail "no handshake with B"
compare_views "$ns_a" "$if_a"
say "handshake with B at $handshake, $rx bytes received, $tx sent; the views still agree"

cat >"$fs_tmp/sync.conf" <<EOF
[Interface]
PrivateKey = $(cat "$fs_tmp/a.key")
ListenPort = 51820
FwMark = 0x4d2

# B stays as it is; D goes; F stays without its preshared key and keepalive;
# E is new.
[Peer]
PublicKey = $pub_b
PresharedKey = $(cat "$fs_tmp/psk")
AllowedIPs = 10.77.0.2/32
Endpoint = 192.0.2.2:51820

[Peer]
PublicKey = $pub_f
AllowedIPs = 10.77.6.0/24, 10.77.66.0/24

[Peer]
PublicKey = $pub_e
AllowedIPs = 10.77.5.0/24
Endpoint = 192.0.2.5:5555
EOF

say "=== flowspreadctl syncconf $if_a: the session with B must survive"
ctl "$ns_a" syncconf "$if_a" "$fs_tmp/sync.conf" || fail "flowspreadctl syncconf exited with $?"
[[ $(peer_field latest-handshakes "$pub_b") == "$handshake" ]] ||
	fail "B's handshake is $(peer_field latest-handshakes "$pub_b") after syncconf, was $handshake"
read -r rx2 tx2 <<<"$(peer_field transfer "$pub_b")"
[[ $rx2 -ge $rx && $tx2 -ge $tx ]] || fail "B's transfer went from $rx/$tx to $rx2/$tx2"
n "$ns_a" wg show "$if_a" peers | grep -qF "$pub_d" && fail "syncconf left D"
[[ $(peer_field preshared-keys "$pub_f") == "(none)" ]] || fail "syncconf left F's preshared key"
[[ $(peer_field persistent-keepalive "$pub_f") == off ]] || fail "syncconf left F's keepalive"
n "$ns_c" wg setconf "$if_c" "$fs_tmp/sync.conf" || fail "wg setconf on C failed"
n "$ns_a" wg showconf "$if_a" | sort_blocks >"$fs_tmp/a.synced"
n "$ns_c" wg showconf "$if_c" | sort_blocks >"$fs_tmp/c.set"
same "A after syncconf and C after wg setconf of the same file" "$fs_tmp/a.synced" "$fs_tmp/c.set"
compare_views "$ns_a" "$if_a"
say "B's handshake ($handshake) and counters kept; A now holds exactly the file"

say "=== flowspreadctl addconf $if_a"
cat >"$fs_tmp/add.conf" <<EOF
[Peer]
PublicKey = $pub_g
AllowedIPs = 10.77.7.0/24
PersistentKeepalive = 7
EOF
ctl "$ns_a" addconf "$if_a" "$fs_tmp/add.conf" || fail "flowspreadctl addconf exited with $?"
[[ $(peer_field allowed-ips "$pub_g") == 10.77.7.0/24 ]] || fail "addconf did not add G"
[[ $(peer_field latest-handshakes "$pub_b") == "$handshake" ]] || fail "addconf disturbed B"
[[ $(n "$ns_a" wg show "$if_a" peers | wc -l) == 4 ]] || fail "addconf changed the other peers"
compare_views "$ns_a" "$if_a"

say "=== flowspreadctl set $if_a"
ctl "$ns_a" set "$if_a" fwmark off peer "$pub_e" endpoint localhost:9 \
	allowed-ips "10.77.9.0/24, fd77:9::/64" persistent-keepalive 15 \
	peer "$pub_g" remove peer "$pub_f" preshared-key "$fs_tmp/psk-f" ||
	fail "flowspreadctl set exited with $?"
[[ $(peer_field endpoints "$pub_e") =~ ^(127\.0\.0\.1|\[::1\]):9$ ]] ||
	fail "E's endpoint is $(peer_field endpoints "$pub_e"), expected localhost:9 resolved"
[[ $(peer_field allowed-ips "$pub_e") == "10.77.9.0/24 fd77:9::/64" ]] ||
	fail "E's allowed IPs are \"$(peer_field allowed-ips "$pub_e")\""
[[ $(peer_field persistent-keepalive "$pub_e") == 15 ]] || fail "E's keepalive is not 15"
[[ $(peer_field preshared-keys "$pub_f") == "$(cat "$fs_tmp/psk-f")" ]] ||
	fail "F's preshared key was not set from its file"
n "$ns_a" wg show "$if_a" peers | grep -qF "$pub_g" && fail "set ... remove left G"
[[ $(n "$ns_a" wg show "$if_a" fwmark) == off ]] || fail "fwmark off did not clear the fwmark"
compare_views "$ns_a" "$if_a"
say "set changed exactly what it was told"

say "=== errors reach the user"
must_fail 1 "interface $if_a: its daemon refused the change: Invalid argument (errno=-22) (the daemon's log has the reason: journalctl -u flowspreadd@$if_a, or syslog when wg-quick started it)" \
	set "$if_a" spread-mode ports
printf '[Interface]\nListenPort = 51820\nSpreadPrefix = 2001:db8:77::/64\n' >"$fs_tmp/ext.conf"
must_fail 1 "interface $if_a: its daemon refused the change: Invalid argument (errno=-22) (the daemon's log has the reason: journalctl -u flowspreadd@$if_a, or syslog when wg-quick started it)" \
	addconf "$if_a" "$fs_tmp/ext.conf"
printf '[Interface]\nAddress = 10.77.0.1/24\n' >"$fs_tmp/quick.conf"
must_fail 1 "line 2: Address is a wg-quick key" setconf "$if_a" "$fs_tmp/quick.conf"
must_fail 1 "interface fsnone$$: no socket /var/run/wireguard/fsnone$$.sock" show "fsnone$$"
must_fail 2 "Usage: flowspreadctl setconf" setconf "$if_a"
[[ $(peer_field latest-handshakes "$pub_b") == "$handshake" ]] ||
	fail "a refused request disturbed B"
ctl "$ns_a" show interfaces | tr ' ' '\n' | grep -qxF "$if_a" ||
	fail "show interfaces does not list $if_a"

say "=== flowspreadctl setconf replaces the peers, so B's session goes"
ctl "$ns_a" setconf "$if_a" "$fs_tmp/sync.conf" || fail "flowspreadctl setconf exited with $?"
[[ $(peer_field latest-handshakes "$pub_b") == 0 ]] ||
	fail "B's handshake survived setconf ($(peer_field latest-handshakes "$pub_b"))"
compare_views "$ns_a" "$if_a"

say "PASS: flowspreadctl sets and shows wireguard-go as wg does"
exit 0
