#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The prefix guard (docs/spreading.md), driven by nl-guard: with the guard
# for 2001:db8:ff::/64 and UDP port 51820 in A, B reaches A on any address
# of the prefix with UDP to 51820 (and A answers from that address, with
# IPV6_FREEBIND and IPV6_PKTINFO) and with ICMPv6; TCP to 8080 and UDP to
# 9999 are not reachable there, while they are on A's own address. A
# ruleset flush leaves the unreachable route; the overlap check refuses
# prefixes on A's link; remove, a crash and its cleanup, and a failed
# install leave exactly what was there before.
#
#  +-------------------------------------+      +-------------------------------------+
#  | fsns$$-a                            |      | fsns$$-b                            |
#  |                                     |      |                                     |
#  |  guard of wg0: 2001:db8:ff::/64     |      |  2001:db8:ff::/64 via 2001:db8:1::1 |
#  |    UDP 51820 (echo server)          |      |                                     |
#  |    TCP 8080, UDP 9999 (not guarded) |      |                                     |
#  |                                     |      |                                     |
#  |  veth0 2001:db8:1::1/64  -----------+------+-----------  veth0 2001:db8:1::2/64  |
#  +-------------------------------------+      +-------------------------------------+

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

NL_GUARD=$top_builddir/tests/netns/nl-guard
PREFIX=2001:db8:ff::/64

[[ $(id -u) == 0 ]] || skip "needs root (network namespaces)"
for cmd in ip python3 ping ss; do
	command -v "$cmd" >/dev/null || skip "\`$cmd' is not installed"
done
[[ -x $NL_GUARD ]] || fail "$NL_GUARD is missing: run \`make tests/netns/nl-guard' first"
fs_tmp=$(mktemp -d "${TMPDIR:-/tmp}/flowspread-netns.XXXXXX") || fail "mktemp -d failed"
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

two_hosts 2001:db8:1::1/64 2001:db8:1::2/64
n "$a" sysctl -qw net.ipv6.icmp.ratelimit=0 || fail "cannot turn off A's ICMPv6 rate limit"
refused='error: Network is unreachable'
ip -n "$b" -6 route add "$PREFIX" via 2001:db8:1::1 || fail "cannot route $PREFIX from B to A"

# no_tentative NS: DAD is over, so the link-local routes stop changing.
no_tentative() { [[ -z $(ip -n "$1" -6 addr show tentative) ]]; }
for ns in "$a" "$b"; do
	until_true 5 no_tentative "$ns" || fail "link-local addresses still tentative in $ns after 5 s"
done

table=$("$NL_GUARD" table wg0)
if ! [[ $table =~ ^[0-9]+$ ]] || ((table < 0x46530000 || table > 0x4653ffff)); then
	fail "table of wg0: expected a number in 0x46530000..0x4653ffff, got '$table'"
fi

# guard NS ARG...: runs nl-guard in NS; fails the test if it fails.
guard() { n "$1" "$NL_GUARD" "${@:2}" || fail "nl-guard ${*:2} in $1 failed"; }

# state NS: every rule and route of NS, both families (sorted: the kernel
# orders rules of one priority by insertion).
state()
{
	{
		ip -n "$1" -4 rule; ip -n "$1" -6 rule
		ip -n "$1" -4 route show table all; ip -n "$1" -6 route show table all
	} | sort
}

# same_state NS BEFORE WHAT: NS's state equals BEFORE.
same_state()
{
	local now

	now=$(state "$1")
	[[ $now == "$2" ]] || fail "$3: rules and routes differ from before:
$(diff <(printf '%s\n' "$2") <(printf '%s\n' "$now"))"
}

# --- the overlap check --------------------------------------------------------
# check_refused PREFIX WHAT: nl-guard check refuses PREFIX in A, naming it and WHAT.
check_refused()
{
	local out rc

	out=$(n "$a" "$NL_GUARD" check "$1")
	rc=$?
	[[ $rc == 1 && $out == "spread prefix $1 overlaps $2"* ]] ||
		fail "check $1: expected a refusal naming $2, got status $rc: $out"
	chat "$out"
}
check_refused 2001:db8:1::/64 "the address 2001:db8:1::1/64 assigned to veth0"
check_refused 2001:db8:1:0:1::/80 "the address 2001:db8:1::1/64 assigned to veth0"
check_refused 2001:db8::/32 "the address 2001:db8:1::1/64 assigned to veth0"
check_refused 2001:db8:1::1/128 "the address 2001:db8:1::1/64 assigned to veth0"
ip -n "$a" -6 route add 2001:db8:2::/64 dev veth0
ip -n "$a" -6 route add 2001:db8:3::/64 via 2001:db8:1::2
check_refused 2001:db8:2:0:8000::/65 "the on-link route 2001:db8:2::/64 dev veth0"
for ok in "$PREFIX" 2001:db8:3::/64 2001:db8:1:1::/64; do
	out=$(n "$a" "$NL_GUARD" check "$ok") || fail "check $ok: expected no overlap, got: $out"
done
ip -n "$a" -6 route del 2001:db8:2::/64 dev veth0
ip -n "$a" -6 route del 2001:db8:3::/64 via 2001:db8:1::2

# --- install, and what it lets through ------------------------------------------
before=$(state "$a")
guard "$a" cleanup wg0
same_state "$a" "$before" "cleanup with nothing to clean"
guard "$a" install wg0 "$PREFIX" 51820

rules=$(ip -n "$a" -6 rule)
for want in "18003:	from all to $PREFIX ipproto udp dport 51820 lookup $table proto 70" \
	"18004:	from all to $PREFIX ipproto ipv6-icmp lookup $table proto 70"; do
	grep -qxF "$want" <<<"$rules" || fail "expected the rule \"$want\", got:
$rules"
done
[[ $(grep -c "lookup $table" <<<"$rules") == 2 ]] || fail "expected 2 rules for table $table, got:
$rules"
[[ $(ip -n "$a" -6 route show table "$table") == "local $PREFIX dev lo proto 70 metric 1024 pref medium" ]] ||
	fail "table $table: expected the local route of $PREFIX, got: $(ip -n "$a" -6 route show table "$table")"
unreachable="unreachable $PREFIX dev lo proto 70 metric $table pref medium"
grep -qxF "$unreachable" <(ip -n "$a" -6 route show table main) ||
	fail "main: expected \"$unreachable\", got: $(ip -n "$a" -6 route show table main)"

# udp_server PORT: in A, on [::]:PORT, logs "DST PAYLOAD" per datagram to
# $fs_tmp/udp-PORT and echoes it back from DST (IPV6_FREEBIND + IPV6_PKTINFO).
udp_server()
{
	ip netns exec "$a" python3 -c "$(cat <<-'EOF'
	import socket, struct, sys
	port, out = int(sys.argv[1]), sys.argv[2]
	s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
	s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
	s.setsockopt(socket.IPPROTO_IPV6, 78, 1)	# IPV6_FREEBIND
	s.bind(('::', port))
	while True:
	    data, anc, _, src = s.recvmsg(2048, socket.CMSG_SPACE(20))
	    dst = [d[:16] for l, t, d in anc if l == socket.IPPROTO_IPV6 and t == socket.IPV6_PKTINFO][0]
	    with open(out, 'a') as f:
	        f.write('%s %s\n' % (socket.inet_ntop(socket.AF_INET6, dst), data.decode()))
	    pktinfo = dst + struct.pack('=I', 0)
	    s.sendmsg([data], [(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, pktinfo)], 0, src)
	EOF
	)" "$1" "$fs_tmp/udp-$1" &
	track $!
	: >"$fs_tmp/udp-$1"
}

# udp_ask ADDR PORT WORD: from B, sends WORD to [ADDR]:PORT; prints the
# source of the echo, or "timeout" after a second.
udp_ask()
{
	ip netns exec "$b" python3 -c "$(cat <<-'EOF'
	import socket, sys
	s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
	s.settimeout(1)
	s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
	try:
	    data, src = s.recvfrom(2048)
	    print(src[0] if data.decode() == sys.argv[3] else 'wrong echo: %r' % data)
	except socket.timeout:
	    print('timeout')
	except OSError as e:
	    print('error: %s' % e.strerror)
	EOF
	)" "$@"
}

# tcp_try ADDR PORT: from B, connects to [ADDR]:PORT; prints "connected",
# "timeout" (nothing answered for 20 s: dropped, not refused) or the error.
# A refusal comes back as an ICMPv6 error ("$refused" for the unreachable
# route); A answers each SYN with one, since its ICMPv6 rate limit is off
# (with it, an earlier error within the second silenced the first SYN's,
# and the refusal came only with a retransmission).
tcp_try()
{
	ip netns exec "$b" python3 -c "$(cat <<-'EOF'
	import socket, sys
	try:
	    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20).close()
	    print('connected')
	except socket.timeout:
	    print('timeout')
	except OSError as e:
	    print('error: %s' % e.strerror)
	EOF
	)" "$@"
}

udp_listening() { [[ -n $(ss -N "$a" -ulnH "sport = :$1" 2>/dev/null) ]]; }
wait_udp_listen() { until_true 5 udp_listening "$1" || fail "nothing listens on UDP port $1 in A"; }

udp_server 51820
udp_server 9999
ip netns exec "$a" python3 -c "$(cat <<-'EOF'
	import socket
	s = socket.create_server(('::', 8080), family=socket.AF_INET6)
	while True:
	    s.accept()[0].close()
	EOF
	)" &
track $!
wait_udp_listen 51820
wait_udp_listen 9999
wait_tcp_listen "$a" 8080

got=$(udp_ask 2001:db8:ff::1234 51820 hello)
[[ $got == 2001:db8:ff::1234 ]] ||
	fail "UDP to [2001:db8:ff::1234]:51820: expected an echo from 2001:db8:ff::1234, got: $got"
grep -qxF "2001:db8:ff::1234 hello" "$fs_tmp/udp-51820" ||
	fail "the server on 51820 did not see destination 2001:db8:ff::1234: $(cat "$fs_tmp/udp-51820")"
got=$(udp_ask 2001:db8:ff:0:ffff:ffff:ffff:fffe 51820 edge)
[[ $got == 2001:db8:ff:0:ffff:ffff:ffff:fffe ]] ||
	fail "UDP to the prefix's last addresses, port 51820: expected an echo, got: $got"

got=$(udp_ask 2001:db8:ff::1234 9999 other-port)
[[ $got == timeout || $got == error:* ]] || fail "UDP to [2001:db8:ff::1234]:9999: expected no echo, got: $got"
got=$(udp_ask 2001:db8:1::1 9999 own-address)
[[ $got == 2001:db8:1::1 ]] || fail "UDP to [2001:db8:1::1]:9999: expected an echo, got: $got"
[[ $(cat "$fs_tmp/udp-9999") == "2001:db8:1::1 own-address" ]] ||
	fail "the server on 9999 should have seen only A's own address, saw: $(cat "$fs_tmp/udp-9999")"

got=$(tcp_try 2001:db8:ff::99 8080)
[[ $got == "$refused" ]] || fail "TCP to [2001:db8:ff::99]:8080: expected $refused, got: $got"
say "TCP to the prefix: $got"
got=$(tcp_try 2001:db8:1::1 8080)
[[ $got == connected ]] || fail "TCP to [2001:db8:1::1]:8080: expected to connect, got: $got"

ping_all "$b" 2001:db8:ff::5

# A Packet Too Big from B about a datagram A sent from 2001:db8:ff::1234:51820
# reaches the socket's error handler: A's route to B learns the MTU.
ip netns exec "$b" python3 -c "$(cat <<-'EOF'
	import socket, struct
	inner_src, inner_dst = (socket.inet_pton(socket.AF_INET6, a) for a in ('2001:db8:ff::1234', '2001:db8:1::2'))
	udp = struct.pack('!HHHH', 51820, 40000, 1400, 0) + bytes(1392)
	ip6 = struct.pack('!IHBB', 6 << 28, len(udp), 17, 64) + inner_src + inner_dst
	ptb = struct.pack('!BBHI', 2, 0, 0, 1280) + (ip6 + udp)[:1232]
	s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
	s.sendto(ptb, ('2001:db8:ff::1234', 0))
	EOF
	)" || fail "cannot send a Packet Too Big from B"
pmtu_learned() { [[ $(ip -n "$a" -6 route get 2001:db8:1::2 from 2001:db8:ff::1234) == *" mtu 1280 "* ]]; }
until_true 2 pmtu_learned ||
	fail "Packet Too Big to 2001:db8:ff::1234 did not reach A: $(ip -n "$a" -6 route get 2001:db8:1::2 from 2001:db8:ff::1234)"

# --- a firewall ruleset flush does not open the prefix ----------------------------
if command -v nft >/dev/null; then
	n "$a" nft flush ruleset || fail "nft flush ruleset failed"
	grep -qxF "$unreachable" <(ip -n "$a" -6 route show table main) ||
		fail "after nft flush ruleset: the unreachable route is gone"
	got=$(tcp_try 2001:db8:ff::99 8080)
	[[ $got == "$refused" ]] ||
		fail "after nft flush ruleset: TCP to the prefix: expected $refused, got: $got"
else
	say "nft is not installed: the ruleset flush is not checked"
fi

# --- a crash and the next start's cleanup -------------------------------------------
guard "$a" cleanup wg0
same_state "$a" "$before" "cleanup after a crash"
got=$(udp_ask 2001:db8:ff::1234 51820 gone)
[[ $got != 2001:db8:ff::1234 ]] || fail "UDP to the prefix still answered after cleanup"

# --- remove deletes exactly what install added (here with two port ranges) ------------
guard "$a" remove wg0 "$PREFIX" 51820,60000-60010
same_state "$a" "$before" "install then remove"

# --- cleanup of one interface leaves another's guard alone -------------------------
guard "$a" install wg1 2001:db8:fe::/64 51821
with_wg1=$(state "$a")
guard "$a" install wg0 "$PREFIX" 51820
guard "$a" cleanup wg0
same_state "$a" "$with_wg1" "cleanup of wg0 beside wg1"
guard "$a" cleanup wg1
same_state "$a" "$before" "cleanup of wg1"

# --- a failed install rolls back what it did --------------------------------------
ip -n "$a" -6 route add local "$PREFIX" dev lo table "$table"
with_local=$(state "$a")
if out=$(n "$a" "$NL_GUARD" install wg0 "$PREFIX" 51820 2>&1); then
	fail "install over an existing local route in table $table succeeded"
fi
[[ $out == *"cannot guard $PREFIX of wg0: adding the local route in table $table: File exists"* ]] ||
	fail "install over an existing local route: unexpected message: $out"
same_state "$a" "$with_local" "a failed install"
ip -n "$a" -6 route del local "$PREFIX" dev lo table "$table"

say "PASS: the guard of $PREFIX holds (table $table)"
