# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# Helpers for the network-namespace tests; source it from a test script.
#
# Everything a test creates is named after its PID, so tests run in
# parallel and never touch the host's interfaces: namespaces fsns$$-NAME,
# wireguard-go interfaces wgfs$$ (UAPI sockets share /var/run/wireguard/).
# An EXIT trap ends our wireguard-go processes by PID, deletes our
# namespaces and the scratch directory, also when a test fails.
#
# Exit status, as automake counts it: 0 pass, 1 fail, 77 skip. With
# FLOWSPREAD_REQUIRE_NETNS=1 (CI on a host known to be able), a missing
# requirement fails instead of skipping.
#
# FS_VERBOSE=1 prints every command and wireguard-go's log; FS_KEEP=1 keeps
# the scratch directory (logs, captures) for a look after the test.

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
WG_PROBE=$top_builddir/tests/netns/wg-probe
FLOWSPREADD=$top_builddir/flowspreadd
FS_VERBOSE=${FS_VERBOSE:-0}

fs_namespaces=()
fs_pids=()
fs_interfaces=()
fs_logs=()		# logs under $fs_tmp that a failing test prints
declare -A fs_daemon_pid	# IFNAME -> PID of its flowspreadd or wireguard-go
fs_tmp=

say() { printf '%s\n' "$*"; }
chat() { [[ $FS_VERBOSE == 1 ]] && printf '%s\n' "$*"; return 0; }

fail()
{
	say "FAIL: $*" >&2
	exit 1
}

skip()
{
	if [[ ${FLOWSPREAD_REQUIRE_NETNS:-0} == 1 ]]; then
		say "FAIL: $* (FLOWSPREAD_REQUIRE_NETNS=1 makes this a failure, not a skip)" >&2
		exit 1
	fi
	say "SKIP: $*" >&2
	exit 77
}

# "n NS CMD..." runs CMD in namespace NS, showing it when verbose.
n()
{
	local ns=$1
	shift
	chat "  [$ns] $*"
	ip netns exec "$ns" "$@"
}

require_netns()
{
	local cmd

	[[ $(id -u) == 0 ]] || skip "needs root (network namespaces, TUN)"
	for cmd in ip wg wireguard-go ping; do
		command -v "$cmd" >/dev/null || skip "\`$cmd' is not installed"
	done
	[[ -c /dev/net/tun ]] || skip "/dev/net/tun is missing"
	[[ -x $WG_PROBE ]] || fail "$WG_PROBE is missing: run \`make tests/netns/wg-probe' first"
	umask 077	# keys
	fs_tmp=$(mktemp -d "${TMPDIR:-/tmp}/flowspread-netns.XXXXXX") || fail "mktemp -d failed"
	trap cleanup EXIT
	trap 'exit 1' INT TERM HUP
}

# require_daemon [TOOL...]: require_netns, the built flowspreadd, and TOOLs.
require_daemon()
{
	local cmd

	require_netns
	for cmd in "$@"; do
		command -v "$cmd" >/dev/null || skip "\`$cmd' is not installed"
	done
	[[ -x $FLOWSPREADD ]] || fail "$FLOWSPREADD is missing: run \`make flowspreadd' first"
}

# ns_create NAME: a namespace fsns$$-NAME with lo up; its name in $REPLY.
ns_create()
{
	REPLY=fsns$$-$1
	ip netns add "$REPLY" 2>"$fs_tmp/netns.err" ||
		skip "cannot create a network namespace: $(cat "$fs_tmp/netns.err")"
	fs_namespaces+=("$REPLY")
	ip -n "$REPLY" link set lo up
}

# veth_pair NS1 NS2: veth0 in each, joined; created inside NS1, so the host
# namespace never sees them.
veth_pair()
{
	ip -n "$1" link add veth0 type veth peer name veth0 netns "$2" ||
		fail "cannot create a veth pair between $1 and $2"
	ip -n "$1" link set veth0 up
	ip -n "$2" link set veth0 up
}

# two_hosts ADDR_A ADDR_B: namespaces a and b (their names in $a and $b),
# joined by veth0 with ADDR_A in a and ADDR_B in b (PREFIX/LEN; IPv6 ones
# without duplicate address detection).
two_hosts()
{
	local nodad

	ns_create a; a=$REPLY
	ns_create b; b=$REPLY
	veth_pair "$a" "$b"
	set -- "$a" "$1" "$b" "$2"
	while (($#)); do
		nodad=()
		[[ $2 == *:* ]] && nodad=(nodad)
		ip -n "$1" addr add "$2" dev veth0 "${nodad[@]}" || fail "cannot add $2 to veth0 in $1"
		shift 2
	done
}

# keypair NAME: a fresh private key in $fs_tmp/NAME.key; its public key in
# $REPLY.
keypair()
{
	wg genkey >"$fs_tmp/$1.key" || fail "wg genkey failed"
	REPLY=$(wg pubkey <"$fs_tmp/$1.key") || fail "wg pubkey failed"
}

# alive PID: true while PID runs (a zombie, not yet reaped, does not count).
alive()
{
	local stat

	read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

# exited PID: true once PID has ended.
exited() { ! alive "$1"; }

# until_true SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds
# (true) or SECONDS have passed (false).
until_true()
{
	local i tries=$(($1 * 10))
	shift

	for ((i = 0; i < tries; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# track PID: ends PID (by its number, nothing else) on exit unless it was
# reaped with "reap PID" first.
track() { fs_pids+=("$1"); }

# reap PID: waits for a tracked PID and returns its exit status.
reap()
{
	local pid=$1 rc i

	wait "$pid"
	rc=$?
	for i in "${!fs_pids[@]}"; do
		[[ ${fs_pids[$i]} == "$pid" ]] && unset "fs_pids[$i]"
	done
	return "$rc"
}

# wg_ifname: a fresh interface name, unique on this host (15 chars at most).
wg_ifname()
{
	REPLY=wgfs$$${#fs_interfaces[@]}
	REPLY=${REPLY:0:15}
	fs_interfaces+=("$REPLY")
}

# two_daemons START_A START_B: keys a and b (private in $fs_tmp/a.key and
# b.key, public in $a_pub and $b_pub), an interface name for each ($aif,
# $bif), and the daemons: START_A (flowspreadd_start or wggo_start) of
# $aif in $a, START_B of $bif in $b.
two_daemons()
{
	keypair a; a_pub=$REPLY
	keypair b; b_pub=$REPLY
	wg_ifname; aif=$REPLY
	wg_ifname; bif=$REPLY
	"$1" "$a" "$aif"
	"$2" "$b" "$bif"
}

# wireguard_go_start NS IFNAME: runs wireguard-go in the foreground, in the
# background, logging verbosely to $fs_tmp/IFNAME.log, and waits for its
# UAPI socket. "ip netns exec" execs, so $! is wireguard-go itself.
# WG_PROCESS_FOREGROUND=1 also silences its banner, which claims this kernel
# has WireGuard whether or not it does.
wireguard_go_start()
{
	local ns=$1 ifname=$2 sock=/var/run/wireguard/$2.sock i

	chat "  [$ns] wireguard-go -f $ifname &"
	LOG_LEVEL=verbose WG_PROCESS_FOREGROUND=1 ip netns exec "$ns" wireguard-go -f "$ifname" \
		>"$fs_tmp/$ifname.log" 2>&1 &
	track $!
	for ((i = 0; i < 50; i++)); do
		[[ -S $sock ]] && return 0
		alive $! || break
		sleep 0.1
	done
	cat "$fs_tmp/$ifname.log" >&2
	fail "wireguard-go did not create $sock"
}

# wireguard_go_log IFNAME [brief]: prints wireguard-go's log, indented,
# without the lines a flood of junk initiations causes (only counted);
# "brief" keeps only what a peer did.
wireguard_go_log()
{
	local junk='Sending cookie response|Received invalid initiation|Failed to'
	local keep='.' omitted

	[[ ${2:-} == brief ]] && keep=' - (Received|Sending|Retrying|Handshake|Keypair)'
	say "--- wireguard-go $1 log${2:+ ($2)}:"
	grep -Ev "$junk" "$fs_tmp/$1.log" | grep -E "$keep" | sed 's/^/  /'
	omitted=$(grep -Ec "$junk" "$fs_tmp/$1.log")
	[[ $omitted == 0 ]] || say "  ($omitted lines about junk initiations and cookie replies omitted)"
}

# wg_show_field NS IFNAME FIELD PUB: the peer PUB's value in "wg show IFNAME FIELD".
wg_show_field()
{
	local ns=$1 ifname=$2 field=$3 pub=$4

	ip netns exec "$ns" wg show "$ifname" "$field" |
		awk -v k="$pub" '$1 == k { $1 = ""; print substr($0, 2) }'
}

# wg_show_handshake NS IFNAME PUB: shows "wg show IFNAME" and fails unless
# IFNAME has had a handshake with the peer PUB.
wg_show_handshake()
{
	n "$1" wg show "$2"
	[[ $(wg_show_field "$1" "$2" latest-handshakes "$3") -gt 0 ]] ||
		fail "wg show $2: no handshake with the peer"
}

# flowspreadd_start NS IFNAME [OPTION...]: runs "flowspreadd -f OPTION...
# IFNAME" in NS, in the background, with LOG_LEVEL=verbose, logging to
# $fs_tmp/IFNAME.log (printed if the test fails), and waits for its UAPI
# socket. Its PID goes in fs_daemon_pid[IFNAME].
flowspreadd_start()
{
	local ns=$1 ifname=$2 sock=/var/run/wireguard/$2.sock pid i
	shift 2

	chat "  [$ns] flowspreadd -f $* $ifname &"
	LOG_LEVEL=verbose ip netns exec "$ns" "$FLOWSPREADD" -f "$@" "$ifname" \
		>"$fs_tmp/$ifname.log" 2>&1 &
	pid=$!
	track "$pid"
	fs_daemon_pid[$ifname]=$pid
	fs_logs+=("$ifname.log")
	for ((i = 0; i < 100; i++)); do
		[[ -S $sock ]] && return 0
		alive "$pid" || break
		sleep 0.1
	done
	fail "flowspreadd did not create $sock"
}

# wggo_start NS IFNAME: wireguard_go_start, its PID in fs_daemon_pid[IFNAME]
# and its log printed if the test fails.
wggo_start()
{
	wireguard_go_start "$1" "$2"
	fs_daemon_pid[$2]=${fs_pids[-1]}
	fs_logs+=("$2.log")
}

# daemon_wait IFNAME [SECONDS]: waits (10 s) for the daemon of IFNAME to
# exit and returns its exit status; fails if it does not exit in time.
daemon_wait()
{
	local ifname=$1 pid=${fs_daemon_pid[$1]}

	until_true "${2:-10}" exited "$pid" ||
		fail "the daemon of $ifname (PID $pid) still runs after ${2:-10} s"
	unset "fs_daemon_pid[$ifname]"
	reap "$pid"
}

# daemon_stop IFNAME [SIGNAL]: sends SIGNAL (TERM) to the daemon of IFNAME
# and returns its exit status.
daemon_stop()
{
	chat "  kill -${2:-TERM} ${fs_daemon_pid[$1]}	# $1"
	kill -"${2:-TERM}" "${fs_daemon_pid[$1]}" || fail "cannot signal the daemon of $1"
	daemon_wait "$1"
}

# log_mark IFNAME...: remembers where the logs of IFNAME... end now;
# log_since IFNAME prints what was logged after the mark.
declare -A fs_log_mark
log_mark()
{
	local ifname

	for ifname in "$@"; do
		fs_log_mark[$ifname]=$(wc -l <"$fs_tmp/$ifname.log")
	done
}
log_since() { tail -n "+$((${fs_log_mark[$1]:-0} + 1))" "$fs_tmp/$1.log"; }

# uapi_raw IFNAME [CHUNK]: sends stdin, UAPI requests each ending in an empty
# line, to IFNAME's socket over one connection (CHUNK bytes per write, 1 ms
# apart, if given) and prints the answers, all of them; fails if they are
# not all there within 5 s.
uapi_raw()
{
	python3 -c "$(cat <<-'EOF'
	import socket, sys, time
	path, chunk = sys.argv[1], int(sys.argv[2])
	data = sys.stdin.buffer.read()
	want = len([r for r in data.split(b'\n\n') if r.strip()])
	s = socket.socket(socket.AF_UNIX)
	s.settimeout(5)
	s.connect(path)
	if chunk:
	    for i in range(0, len(data), chunk):
	        s.sendall(data[i:i + chunk])
	        time.sleep(0.001)
	else:
	    s.sendall(data)
	got = b''
	try:
	    while got.count(b'errno=') < want or not got.endswith(b'\n\n'):
	        more = s.recv(65536)
	        if not more:
	            break
	        got += more
	except socket.timeout:
	    pass
	sys.stdout.buffer.write(got)
	if got.count(b'errno=') != want:
	    print('expected %d answers, got %d' % (want, got.count(b'errno=')), file=sys.stderr)
	    sys.exit(1)
	EOF
	)" "/var/run/wireguard/$1.sock" "${2:-0}" || fail "UAPI exchange with $1 failed"
}

# drop_count IFNAME REASON: N from the "dropped: ... N REASON, ..." line
# flowspreadd logs at exit (LOG_LEVEL=verbose); empty if there is none.
drop_count()
{
	sed -n "s/.*dropped:.* \([0-9][0-9]*\) $2\(,.*\)\{0,1\}\$/\1/p" "$fs_tmp/$1.log" | tail -n 1
}

# tunnel_up NS IFNAME ADDR...: gives IFNAME the addresses (PREFIX/LEN) and
# sets it up.
tunnel_up()
{
	local ns=$1 ifname=$2 addr
	shift 2

	for addr in "$@"; do
		if [[ $addr == *:* ]]; then
			ip -n "$ns" addr add "$addr" dev "$ifname" nodad
		else
			ip -n "$ns" addr add "$addr" dev "$ifname"
		fi || fail "cannot add $addr to $ifname in $ns"
	done
	ip -n "$ns" link set "$ifname" up || fail "cannot set $ifname up in $ns"
}

# ping_all NS ADDR [COUNT [OPTION...]]: COUNT (3) pings from NS, each one
# answered.
ping_all()
{
	local ns=$1 addr=$2 count=${3:-3} out
	shift $(($# < 3 ? $# : 3))

	out=$(n "$ns" ping -n -c "$count" -i 0.2 -W 2 "$@" "$addr" 2>&1)
	chat "$out"
	[[ $out == *" $count received, 0% packet loss"* ]] ||
		fail "ping $* $addr from $ns: expected $count replies, got: $(tail -n 2 <<<"$out")"
}

# ping_none NS ADDR [OPTION...]: 3 pings from NS get no reply at all.
ping_none()
{
	local ns=$1 addr=$2 out
	shift 2

	out=$(n "$ns" ping -n -c 3 -i 0.2 -W 1 "$@" "$addr" 2>&1)
	chat "$out"
	[[ $out == *" 0 received"* ]] ||
		fail "ping $* $addr from $ns: expected no reply, got: $(tail -n 2 <<<"$out")"
}

# no_icmp_errors NS...: the kernel of each NS sends no ICMP(v6) destination
# unreachable (an nftables rule): a capture that tells flows apart by the
# length of their data messages would take an error quoting flow j's
# packet (16-byte padding makes it as long as flow j + 2) for one of them.
no_icmp_errors()
{
	local ns

	for ns in "$@"; do
		n "$ns" nft -f - <<-'EOF' || fail "cannot add the nftables rule against ICMP errors in $ns"
		table inet fs_no_icmp_errors {
			chain out {
				type filter hook output priority 0;
				icmp type destination-unreachable drop
				icmpv6 type destination-unreachable drop
			}
		}
		EOF
	done
}

# udp_echo_server NS ADDR PORT: a python3 in NS that sends every UDP
# datagram to ADDR:PORT back to where it came from; its PID in $REPLY
# ("ip netns exec" execs: it is python itself).
udp_echo_server()
{
	ip netns exec "$1" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(data, peer)
' "$2" "$3" &
	REPLY=$!
	track "$REPLY"
	until_true 5 bash -c "ss -N $1 -uanH 'sport = :$3' | grep -q ." || fail "the echo server did not start"
}

# udp_flows NS SRC DST PORT FLOWS COUNT: from NS, FLOWS inner UDP flows,
# flow i (0 to FLOWS - 1) from SRC port 9100 + i to DST:PORT, each sending
# COUNT datagrams of 100 + 16 i bytes, one at a time, and each must come
# back (2 s each). The lengths tell the flows apart in a capture: over
# WireGuard, flow i's data messages carry 160 + 16 i bytes of UDP payload
# (capture_check counts on it).
udp_flows()
{
	n "$1" python3 - "$2" "$3" "$4" "$5" "$6" <<-'PY' || fail "$6 round(s) of $5 UDP flows did not all come back"
	import socket, sys
	src, dst, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
	flows, count = int(sys.argv[4]), int(sys.argv[5])
	family = socket.AF_INET6 if ':' in dst else socket.AF_INET
	lost = 0
	for i in range(flows):
	    s = socket.socket(family, socket.SOCK_DGRAM)
	    s.bind((src, 9100 + i))
	    s.settimeout(2)
	    for k in range(count):
	        data = bytes([i]) * (100 + 16 * i)
	        s.sendto(data, (dst, port))
	        try:
	            if s.recv(2048) != data:
	                lost += 1
	        except socket.timeout:
	            lost += 1
	    s.close()
	if lost:
	    print('%d datagrams did not come back' % lost, file=sys.stderr)
	    sys.exit(1)
	PY
}

# kernel_drops NS [IFNAME...]: what the kernel of NS dropped because a
# reader was too slow, as exact counts: UDP datagrams refused for a full
# socket buffer (IPv4 and IPv6) plus the packets IFNAME (a TUN) could not
# queue to its reader. On a busy machine these are the machine's losses,
# not the tunnel's.
kernel_drops()
{
	local ns=$1 n ifname
	shift

	n=$(ip netns exec "$ns" awk '
		$1 == "Udp:" && $2 ~ /^[0-9]/ { sum += $6 }
		$1 == "Udp6RcvbufErrors" { sum += $2 }
		END { print sum + 0 }' /proc/net/snmp /proc/net/snmp6)
	for ifname in "$@"; do
		n=$((n + $(ip netns exec "$ns" cat "/sys/class/net/$ifname/statistics/tx_dropped")))
	done
	echo "$n"
}

# capture_start NAME NS FILTER / capture_stop NAME [MIN]: tcpdump on veth0
# in NS, the packets FILTER (pcap-filter) lets through; capture_stop waits
# (30 s at most) until the capture holds MIN WireGuard messages, if given,
# then leaves them in $fs_tmp/NAME.txt, one line per message as tcpdump
# prints a datagram (wg_messages), and tcpdump's own text in NAME.raw.txt.
# One capture at a time.
capture_start()
{
	ip netns exec "$2" tcpdump -n -U --immediate-mode -B 8192 -i veth0 -w "$fs_tmp/$1.pcap" "$3" \
		2>"$fs_tmp/$1.err" &
	fs_capture_pid=$!
	track "$fs_capture_pid"
	until_true 5 grep -q 'listening on' "$fs_tmp/$1.err" || fail "tcpdump did not start: $(cat "$fs_tmp/$1.err")"
}
capture_stop()
{
	# A packet that crossed veth0 may still wait in tcpdump's buffer, the
	# longer the busier the machine: wait for what must be there.
	[[ -z ${2:-} ]] || until_true 30 capture_holds "$1" "$2" ||
		say "capture $1: fewer than $2 messages after 30 s" >&2
	sleep 0.3
	kill -INT "$fs_capture_pid"
	reap "$fs_capture_pid"
	# tcpdump's counts: what the kernel dropped before tcpdump read it.
	if grep -q '^[1-9][0-9]* packets\? dropped by' "$fs_tmp/$1.err"; then
		say "capture $1: $(grep -h 'dropped by' "$fs_tmp/$1.err" | tr '\n' ' ')" >&2
	fi
	tcpdump -n -r "$fs_tmp/$1.pcap" 2>/dev/null >"$fs_tmp/$1.raw.txt"
	wg_messages "$fs_tmp/$1.pcap" >"$fs_tmp/$1.txt" || fail "cannot read the capture $1"
	chat "$(cat "$fs_tmp/$1.txt")"
}

# capture_holds NAME MIN: the capture file of NAME holds MIN messages.
capture_holds()
{
	(($(wg_messages "$fs_tmp/$1.pcap" | wc -l) >= $2))
}

# wg_messages PCAP: the UDP datagrams of PCAP (Ethernet, as tcpdump -w
# writes it on a veth) as tcpdump -n prints them ("TIME IP SRC.PORT >
# DST.PORT: UDP, length N"), except that a UDP GSO send the veth carried
# unsegmented (one packet holding k data messages of one keypair, the
# last maybe shorter: tcpdump would print their sum, which may equal the
# length of another message) is one line per message. The segments are
# found by their headers: type 4, the same receiver index, counters one
# apart. Other packets: "TIME other". A record cut short at the end (the
# capture still being written) is left out.
wg_messages()
{
	python3 - "$1" <<-'PY'
	import ipaddress, struct, sys, time
	data = open(sys.argv[1], 'rb').read()
	if len(data) < 24:
	    sys.exit(0)
	endian = '<' if data[:4] in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>'
	nano = data[:4] in (b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\x3c\x4d')
	def stamp(sec, frac):
	    return time.strftime('%H:%M:%S', time.localtime(sec)) + '.%06d' % (frac // 1000 if nano else frac)
	def data_header(msg):
	    if len(msg) < 16 or msg[:4] != b'\x04\x00\x00\x00':
	        return None
	    return msg[4:8], struct.unpack('<Q', msg[8:16])[0]
	def segments(payload):
	    first = data_header(payload)
	    if first is None or len(payload) <= 32:
	        return [len(payload)]
	    for size in range(32, len(payload), 16):
	        if data_header(payload[size:]) == (first[0], first[1] + 1):
	            break
	    else:
	        return [len(payload)]
	    offsets = range(0, len(payload), size)
	    if any(data_header(payload[o:]) != (first[0], first[1] + k) for k, o in enumerate(offsets)):
	        return [len(payload)]
	    return [min(size, len(payload) - o) for o in offsets]
	off = 24
	while off + 16 <= len(data):
	    sec, frac, caplen, _ = struct.unpack(endian + 'IIII', data[off:off + 16])
	    pkt = data[off + 16:off + 16 + caplen]
	    if len(pkt) < caplen:
	        break
	    off += 16 + caplen
	    when = stamp(sec, frac)
	    ethertype = pkt[12:14]
	    if ethertype == b'\x08\x00' and len(pkt) >= 34 and pkt[23] == 17:
	        ihl = (pkt[14] & 15) * 4
	        family, src, dst, udp = 'IP', pkt[26:30], pkt[30:34], pkt[14 + ihl:]
	    elif ethertype == b'\x86\xdd' and len(pkt) >= 54 and pkt[20] == 17:
	        family, src, dst, udp = 'IP6', pkt[22:38], pkt[38:54], pkt[54:]
	    else:
	        print(when, 'other')
	        continue
	    if len(udp) < 8:
	        print(when, 'other')
	        continue
	    sport, dport, ulen = struct.unpack('>HHH', udp[:6])
	    payload = udp[8:ulen] if 8 <= ulen <= len(udp) else udp[8:]
	    for length in segments(payload):
	        print('%s %s %s.%d > %s.%d: UDP, length %d' % (when, family, ipaddress.ip_address(src),
	              sport, ipaddress.ip_address(dst), dport, length))
	PY
}

# capture_flows NAME NS FILTER SRC DST PORT FLOWS ROUNDS: captures as NAME
# (capture_start NS FILTER) 3 pings from NS to DST, one warm-up round of
# udp_flows NS SRC DST PORT FLOWS, then ROUNDS more: every datagram came
# back, so the capture waits for all of their data messages, both ways
# (FILTER lets through data messages longer than a keepalive, of any
# length: a GSO send of several is one packet on the veth).
capture_flows()
{
	capture_start "$1" "$2" "$3"
	ping_all "$2" "$5" 3
	udp_flows "$2" "$4" "$5" "$6" "$7" 1
	udp_flows "$2" "$4" "$5" "$6" "$7" "$8"
	capture_stop "$1" $((2 * 3 + 2 * $7 * ($8 + 1)))
}

# capture_check NAME FLOWS PER_FLOW [ARG...] <<PYTHON: runs the python3
# code on stdin, the checks of what capture NAME saw of FLOWS udp_flows
# with PER_FLOW data messages each way per flow, with these defined:
#   step (NAME), flows, per_flow, args (ARG...);
#   fail(MSG): prints "FAIL: NAME: MSG" and exits 1;
#   datagrams(FAMILY): the data messages of the capture (wg_messages) as
#     FAMILY ('IP' or 'IP6'), [(flow, src, sport, dst, dport, line)], flow
#     'ping' for 128 bytes (a default ping), i for 160 + 16 i (i below
#     FLOWS); other lengths are left out (strings; ports int);
#   flow_pairs(msgs): from msgs {'ab': A->B, 'ba': B->A, each
#     [(flow, x, y)]}, the one (x, y) of each flow per way, {flow: (x, y)}
#     for 'ab' and for 'ba', printed; fails unless every flow has PER_FLOW
#     messages each way, all with the same (x, y);
#   mirrored(ab, ba): fails unless B->A uses the A->B pairs mirrored, each
#     flow both ways on the same one;
#   ping_pair(msgs, a_range, b_range): the (a_p, b_p) of the ping flow,
#     printed; fails unless every ping message went a_p -> b_p and
#     b_p -> a_p from the first one on (both ends had proven their
#     sources and seen each other inside the ranges before: see
#     spread_proven), a_p in A_RANGE and b_p in B_RANGE.
capture_check()
{
	local name=$1 prelude
	shift

	prelude=$(cat <<-'PY'
	import sys
	step, path = sys.argv[1], sys.argv[2]
	flows, per_flow, args = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:]
	def fail(msg):
	    print('FAIL: %s: %s' % (step, msg), file=sys.stderr)
	    sys.exit(1)
	def datagrams(family):
	    # "TIME IP SRC.PORT > DST.PORT: UDP, length N"
	    got = []
	    for line in open(path):
	        t = line.split()
	        if len(t) < 8 or t[1] != family or t[-2] != 'length':
	            continue
	        src, sport = t[2].rsplit('.', 1)
	        dst, dport = t[4].rstrip(':').rsplit('.', 1)
	        length = int(t[-1])
	        if length == 128:
	            flow = 'ping'
	        elif 160 <= length < 160 + 16 * flows and length % 16 == 0:
	            flow = (length - 160) // 16
	        else:
	            continue	# not a ping's or a flow's data message
	        got.append((flow, src, int(sport), dst, int(dport), line.strip()))
	    return got
	def flow_pairs(msgs):
	    def one_way(way):
	        pairs = {}
	        for flow, x, y in msgs[way]:
	            if flow != 'ping':
	                pairs.setdefault(flow, []).append((x, y))
	        if sorted(pairs) != list(range(flows)):
	            fail('%s: data messages of flows %s, expected 0..%d' % (way, sorted(pairs), flows - 1))
	        for flow, seen in pairs.items():
	            if len(seen) != per_flow:
	                fail('%s: flow %d: %d data messages, expected %d' % (way, flow, len(seen), per_flow))
	            if len(set(seen)) != 1:
	                fail('%s: flow %d used more than one pair: %s' %
	                     (way, flow, sorted('%s -> %s' % p for p in set(seen))))
	        return {flow: seen[0] for flow, seen in pairs.items()}
	    ab, ba = one_way('ab'), one_way('ba')
	    for flow in range(flows):
	        print('  flow %d: A->B %s -> %s, B->A %s -> %s' % (flow, *ab[flow], *ba[flow]))
	    return ab, ba
	def mirrored(ab, ba):
	    if {(y, x) for x, y in ba.values()} != set(ab.values()):
	        fail('the B->A pairs are not the A->B ones mirrored')
	    if any(ba[f] != (y, x) for f, (x, y) in ab.items()):
	        fail('a flow is not on the same pair both ways')
	def ping_pair(msgs, a_range, b_range):
	    ping_ab = [(x, y) for f, x, y in msgs['ab'] if f == 'ping']
	    ping_ba = [(x, y) for f, x, y in msgs['ba'] if f == 'ping']
	    if len(ping_ab) < 2 or len(set(ping_ab)) != 1 or len(set(ping_ba)) != 1:
	        fail('ping: %d messages A->B on %d pairs, B->A on %d pairs, expected one each way' %
	             (len(ping_ab), len(set(ping_ab)), len(set(ping_ba))))
	    a_p, b_p = ping_ab[0]
	    if ping_ba[0] != (b_p, a_p) or a_p not in a_range or b_p not in b_range:
	        fail('ping: A->B %s -> %s, B->A %s -> %s: not one pair of the ranges, mirrored' %
	             (a_p, b_p, *ping_ba[0]))
	    print('ping: A->B %s -> %s from the first message on; B->A %s -> %s' % (a_p, b_p, b_p, a_p))
	    return a_p, b_p
	PY
	)
	python3 -c "$prelude"$'\n'"$(cat)" "$name" "$fs_tmp/$name.txt" "$@"
}

# spread_source IFNAME KIND: the spread_source= value of KIND (addresses,
# ports) of the only peer of flowspreadd IFNAME: STATE,AGE_MS,FAILURES,REASON
# (flowspreadd(8)).
spread_source() { printf 'get=1\n\n' | uapi_raw "$1" | sed -n "s/^spread_source=$2,//p"; }

# spread_proven NS ADDR IFNAME KIND: pings ADDR from NS, once a round, until
# flowspreadd IFNAME uses its KIND of spread sources (the peer answered
# through them; its probe goes out at most REKEY_TIMEOUT after the last
# handshake); fails if it does not within 200 rounds.
spread_proven()
{
	local ns=$1 addr=$2 ifname=$3 kind=$4 i

	for ((i = 0; i < 200; i++)); do
		ip netns exec "$ns" ping -n -c 1 -W 1 "$addr" >/dev/null 2>&1
		[[ $(spread_source "$ifname" "$kind") == proven,* ]] && return 0
		sleep 0.1
	done
	fail "$ifname: its $kind of spread sources are not proven: $(spread_source "$ifname" "$kind")"
}

# wait_tcp_listen NS PORT: waits (5 s) for a TCP listener on PORT in NS.
wait_tcp_listen()
{
	local i

	for ((i = 0; i < 50; i++)); do
		[[ -n $(ss -N "$1" -tlnH "sport = :$2" 2>/dev/null) ]] && return 0
		sleep 0.1
	done
	fail "nothing listens on TCP port $2 in $1"
}

# iperf NAME SERVER_NS SERVER_ADDR CLIENT_NS [CLIENT OPTION...]: one iperf3
# test (JSON in $fs_tmp/NAME.json) with a one-shot server bound to
# SERVER_ADDR; prints what iperf_result does. Fails unless the test
# completed.
iperf()
{
	local name=$1 sns=$2 saddr=$3 cns=$4 spid rc port=5201
	shift 4

	chat "  [$sns] iperf3 -s -1 -B $saddr -p $port &"
	ip netns exec "$sns" iperf3 -s -1 -B "$saddr" -p "$port" >"$fs_tmp/$name.server" 2>&1 &
	spid=$!
	track "$spid"
	wait_tcp_listen "$sns" "$port"
	n "$cns" timeout 60 iperf3 -J -c "$saddr" -p "$port" "$@" >"$fs_tmp/$name.json" 2>&1
	rc=$?
	until_true 5 exited "$spid" || kill -TERM "$spid" 2>/dev/null
	reap "$spid" 2>/dev/null
	iperf_result "$fs_tmp/$name.json" ||
		fail "iperf3 $* to $saddr (client in $cns) did not complete (status $rc)"
}

# iperf_result FILE: from iperf3's JSON in FILE, one line per direction the
# test measured: "forward|reverse BITS_PER_SECOND LOST_PERCENT" (TCP: what
# the receiver got, LOST_PERCENT 0; UDP: the receiver's count of losses).
# False if the test did not complete.
iperf_result()
{
	python3 - "$1" <<-'EOF'
	import json, sys
	try:
	    r = json.load(open(sys.argv[1]))
	except ValueError:
	    print(open(sys.argv[1]).read(), file=sys.stderr)
	    sys.exit(1)
	if 'error' in r:
	    print('iperf3:', r['error'], file=sys.stderr)
	    sys.exit(1)
	e = r['end']
	udp = r['start']['test_start']['protocol'] == 'UDP'
	for way, sfx in (('forward', ''), ('reverse', '_bidir_reverse')):
	    if udp and 'sum' + sfx in e:
	        s = e['sum' + sfx]
	        print(way, int(s['bits_per_second']), s['lost_percent'])
	    elif not udp and 'sum_received' + sfx in e:
	        print(way, int(e['sum_received' + sfx]['bits_per_second']), 0)
	EOF
}

cleanup()
{
	local rc=$? pid i ns ifname log

	for pid in "${fs_pids[@]}"; do
		# Not yet reaped, so the PID is still ours even if it exited.
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < 20; i++)); do
			alive "$pid" || break
			sleep 0.1
		done
		alive "$pid" && kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if [[ $rc != 0 && $rc != 77 ]]; then
		for log in "${fs_logs[@]}"; do
			say "--- $log:"
			sed 's/^/  /' "$fs_tmp/$log"
		done
	fi
	for ns in "${fs_namespaces[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	for ifname in "${fs_interfaces[@]}"; do
		rm -f "/var/run/wireguard/$ifname.sock"
	done
	if [[ ${FS_KEEP:-0} == 1 && -n $fs_tmp ]]; then
		say "kept the scratch directory $fs_tmp (FS_KEEP=1)" >&2
	elif [[ -n $fs_tmp ]]; then
		rm -rf "$fs_tmp"
	fi
	exit "$rc"
}
