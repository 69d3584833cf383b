#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Rekeying under traffic (about 2.5 minutes): three tunnels side by side,
# flowspreadd -> flowspreadd, flowspreadd -> wireguard-go and wireguard-go
# -> flowspreadd (the initiator knows the endpoint). Each carries for
# $duration s, longer than REKEY_AFTER_TIME (120 s), a ping every 0.2 s and
# an iperf3 TCP stream at $rate. After it, on both ends of each tunnel the
# latest handshake is at least 110 s later than the first one (a new
# handshake happened), the pings lost at most $max_lost (plus what the
# kernel dropped for a slow reader), iperf3 completed and moved data, and
# flowspreadd never gave up a handshake (nor retried one unless the kernel
# dropped datagrams).
#
#  for each tunnel T in ff (flowspreadd -> flowspreadd), fg (flowspreadd ->
#  wireguard-go), gf (wireguard-go -> flowspreadd):
#  +-----------------------------------+      +-----------------------------------+
#  | fsns$$-T-a                        |      | fsns$$-T-b                        |
#  |                                   |      |                                   |
#  |  initiator, 198.51.100.1/24       |      |  responder, 198.51.100.2/24       |
#  |    UDP 51820, peer B at           |      |    UDP 51821, peer A learnt       |
#  |    192.0.2.2:51821                |      |                                   |
#  |  ping, iperf3 client  ============ tunnel ===========>  iperf3 server       |
#  |                                   |      |                                   |
#  |  veth0 192.0.2.1/24  -------------+------+------------ veth0 192.0.2.2/24    |
#  +-----------------------------------+      +-----------------------------------+

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon iperf3 python3 ss

duration=${FS_REKEY_SECONDS:-140}	# > REKEY_AFTER_TIME, 120 s
rate=5M
max_lost=2
tunnels=(ff fg gf)
declare -A kind_a=([ff]=flowspreadd [fg]=flowspreadd [gf]=wireguard-go)
declare -A kind_b=([ff]=flowspreadd [fg]=wireguard-go [gf]=flowspreadd)
declare -A ns_a ns_b if_a if_b pub_a pub_b first_a first_b

start()
{
	case $1 in
	flowspreadd) flowspreadd_start "$2" "$3" ;;
	wireguard-go) wggo_start "$2" "$3" ;;
	esac
}

# tunnel T: sets tunnel T up and makes its first handshake.
tunnel()
{
	local t=$1 a b aif bif

	ns_create "$t-a"; a=$REPLY
	ns_create "$t-b"; b=$REPLY
	veth_pair "$a" "$b"
	ip -n "$a" addr add 192.0.2.1/24 dev veth0
	ip -n "$b" addr add 192.0.2.2/24 dev veth0
	keypair "$t-a"; pub_a[$t]=$REPLY
	keypair "$t-b"; pub_b[$t]=$REPLY
	wg_ifname; aif=$REPLY
	wg_ifname; bif=$REPLY
	start "${kind_a[$t]}" "$a" "$aif"
	start "${kind_b[$t]}" "$b" "$bif"
	n "$b" wg set "$bif" private-key "$fs_tmp/$t-b.key" listen-port 51821 \
		peer "${pub_a[$t]}" allowed-ips 198.51.100.1/32 || fail "wg set $bif failed"
	n "$a" wg set "$aif" private-key "$fs_tmp/$t-a.key" listen-port 51820 \
		peer "${pub_b[$t]}" endpoint 192.0.2.2:51821 allowed-ips 198.51.100.2/32 ||
		fail "wg set $aif failed"
	tunnel_up "$a" "$aif" 198.51.100.1/24
	tunnel_up "$b" "$bif" 198.51.100.2/24
	ping_all "$a" 198.51.100.2
	ns_a[$t]=$a ns_b[$t]=$b if_a[$t]=$aif if_b[$t]=$bif
	first_a[$t]=$(wg_show_field "$a" "$aif" latest-handshakes "${pub_b[$t]}")
	first_b[$t]=$(wg_show_field "$b" "$bif" latest-handshakes "${pub_a[$t]}")
	[[ ${first_a[$t]:-0} -gt 0 && ${first_b[$t]:-0} -gt 0 ]] || fail "tunnel $t: no first handshake"
	say "tunnel $t: ${kind_a[$t]} $aif -> ${kind_b[$t]} $bif, first handshake at ${first_a[$t]}"
}

say "=== three tunnels"
for t in "${tunnels[@]}"; do
	tunnel "$t"
done

say "=== $duration s of ping and iperf3 -b $rate through each"
declare -A pids drops0
for t in "${tunnels[@]}"; do
	drops0[$t]=$(($(kernel_drops "${ns_a[$t]}" "${if_a[$t]}") + $(kernel_drops "${ns_b[$t]}" "${if_b[$t]}")))
	ip netns exec "${ns_b[$t]}" iperf3 -s -1 -B 198.51.100.2 >"$fs_tmp/$t.server" 2>&1 &
	track $!
	pids[$t-server]=$!
	wait_tcp_listen "${ns_b[$t]}" 5201
	ip netns exec "${ns_a[$t]}" timeout $((duration + 60)) \
		iperf3 -J -c 198.51.100.2 -t "$duration" -b "$rate" >"$fs_tmp/$t.json" 2>&1 &
	track $!
	pids[$t-client]=$!
	ip netns exec "${ns_a[$t]}" ping -n -i 0.2 -c $((duration * 5)) -W 2 198.51.100.2 \
		>"$fs_tmp/$t.ping" 2>&1 &
	track $!
	pids[$t-ping]=$!
done
for t in "${tunnels[@]}"; do
	for what in ping client server; do
		reap "${pids[$t-$what]}"
	done
done

say "=== results"
for t in "${tunnels[@]}"; do
	a=${ns_a[$t]} b=${ns_b[$t]}
	last_a=$(wg_show_field "$a" "${if_a[$t]}" latest-handshakes "${pub_b[$t]}")
	last_b=$(wg_show_field "$b" "${if_b[$t]}" latest-handshakes "${pub_a[$t]}")
	[[ $((last_a - first_a[$t])) -ge 110 && $((last_b - first_b[$t])) -ge 110 ]] ||
		fail "tunnel $t: no rekey; latest handshakes A ${first_a[$t]} -> $last_a, B ${first_b[$t]} -> $last_b"
	sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$fs_tmp/$t.ping")
	received=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$fs_tmp/$t.ping")
	# Datagrams the kernel dropped before a daemon could read them (a busy
	# machine starves the readers) may take pings with them; any other
	# loss is the tunnel's.
	dropped=$(($(kernel_drops "$a" "${if_a[$t]}") + $(kernel_drops "$b" "${if_b[$t]}") - drops0[$t]))
	[[ -n $sent && -n $received && $((sent - received)) -le $((max_lost + dropped)) ]] ||
		fail "tunnel $t: ping: $(tail -n 2 "$fs_tmp/$t.ping" | head -n 1), at most $max_lost lost expected" \
			"(+ $dropped the kernel dropped for slow readers)"
	read -r _ bps _ < <(iperf_result "$fs_tmp/$t.json") ||
		fail "tunnel $t: iperf3 did not complete"
	[[ ${bps:-0} -gt 0 ]] || fail "tunnel $t: iperf3 moved nothing"
	for ifname in "${if_a[$t]}" "${if_b[$t]}"; do
		! grep -E 'giving up|zeroing out' "$fs_tmp/$ifname.log" ||
			fail "tunnel $t: $ifname logged a failed handshake"
		# A retried handshake is the protocol's answer to a lost message:
		# only where the kernel lost datagrams for a slow reader.
		! grep 'did not complete' "$fs_tmp/$ifname.log" || ((dropped > 0)) ||
			fail "tunnel $t: $ifname retried a handshake, and no datagram was dropped for a slow reader"
	done
	say "tunnel $t: rekeyed (A $((last_a - first_a[$t])) s, B $((last_b - first_b[$t])) s after the first handshake)," \
		"ping $received/$sent ($dropped datagrams dropped by the kernel for slow readers)," \
		"iperf3 $((bps / 1000)) kbit/s"
done

for t in "${tunnels[@]}"; do
	for ifname in "${if_a[$t]}" "${if_b[$t]}"; do
		[[ $(cat "/proc/${fs_daemon_pid[$ifname]}/comm" 2>/dev/null) == flowspreadd ]] || continue
		daemon_stop "$ifname" || fail "flowspreadd $ifname exited with status $?"
	done
done
say "PASS: flowspreadd rekeys under traffic with itself and wireguard-go, both roles, without a gap"
exit 0
