#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Many peers: the time one UAPI `set' of N peers takes, then one `get' of them, and the memory
# (VmRSS) and mappings (/proc/PID/maps lines) the daemon holds after it,
# flowspreadd beside wireguard-go (Debian's, and any binary given with
# --wireguard-go PATH), in the same run, as ratios.
#
# Each step starts a fresh daemon in our namespace fsbench$$-p, reads its
# VmRSS and mappings, sends one request (a private key and N peers with
# random public keys, one allowed IP each), times it until the answer,
# checks it is errno=0 and that `get' lists N peers, reads VmRSS and
# mappings again and stops the daemon (by PID). Nothing leaves the
# namespace; the EXIT trap deletes it.

set -u
export LC_ALL=C

usage()
{
	cat <<-EOF
	Usage: bench/peers.sh [--peers N[,N...]] [--wireguard-go PATH]... [--flowspreadd PATH]
	                      [--json PATH] [--verbose]

	Time, memory and mappings of one set of N peers (default 10000,100000),
	flowspreadd against wireguard-go (Debian's; --wireguard-go PATH adds a
	binary, repeatable). As root. Build the daemon without sanitizers first.
	EOF
}

FLOWSPREADD=${FLOWSPREADD:-$(cd "$(dirname "$0")/.." && pwd)/flowspreadd}
counts=10000,100000
wggos=()
json=
verbose=0
while (($#)); do
	case $1 in
	--peers) counts=$2; shift 2 ;;
	--wireguard-go) wggos+=("$2"); shift 2 ;;
	--flowspreadd) FLOWSPREADD=$2; shift 2 ;;
	--json) json=$2; shift 2 ;;
	--verbose) verbose=1; shift ;;
	-h|--help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
command -v wireguard-go >/dev/null && wggos=("$(command -v wireguard-go)" "${wggos[@]}")

bench_dir=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$bench_dir/lib.sh"
[[ $(id -u) == 0 ]] || die "run as root (network namespaces, TUN devices)"
[[ -x $FLOWSPREADD ]] || die "$FLOWSPREADD: no such program (build it, or give --flowspreadd PATH)"
bench_unsanitized "$FLOWSPREADD"
((${#wggos[@]})) || die "no wireguard-go: apt-get install wireguard-go, or give --wireguard-go PATH"

ns=fsbench$$-p
tmp=$(mktemp -d /tmp/fsbench-peers.XXXXXX)
pid=
cleanup()
{
	if [[ -n $pid ]]; then
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns" || die "cannot create namespace $ns"
ip -n "$ns" link set lo up

# exchange SOCKET FILE: sends FILE, then a get; prints "SECONDS ANSWER-LAST-LINE
# PEERS-IN-GET GET-SECONDS".
exchange()
{
	python3 - "$1" "$2" <<-'EOF'
	import socket, sys, time
	def ask(path, data):
	    s = socket.socket(socket.AF_UNIX)
	    s.settimeout(600)
	    s.connect(path)
	    s.sendall(data)
	    got = bytearray()	# += on bytes copies all of it each time: quadratic
	    while not (got.endswith(b'\n\n') and b'errno=' in got[-16:]):
	        more = s.recv(1 << 20)
	        if not more:
	            break
	        got += more
	    s.close()
	    return got
	data = open(sys.argv[2], 'rb').read()
	t = time.monotonic()
	answer = ask(sys.argv[1], data)
	t = time.monotonic() - t
	g = time.monotonic()
	listed = ask(sys.argv[1], b'get=1\n\n').count(b'\npublic_key=')
	g = time.monotonic() - g
	print('%.3f %s %d %.3f' % (t, answer.decode().split()[-1], listed, g))
	EOF
}

rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }
maps() { wc -l <"/proc/$1/maps"; }

# step IMPL BINARY N: one fresh daemon, one set; a JSON line on stdout.
step()
{
	local impl=$1 bin=$2 peers=$3 ifname=fsp$$ sock rss0 maps0 out level=error
	ifname=${ifname:0:15}
	sock=/var/run/wireguard/$ifname.sock
	[[ $impl == fs ]] && level=verbose
	solo_start "$impl" "$bin" "$ns" "$ifname" "$tmp/log" "$level"
	pid=$REPLY
	sleep 0.5
	rss0=$(rss "$pid") maps0=$(maps "$pid")
	exchange "$sock" "$tmp/req$peers" >"$tmp/ex" 2>"$tmp/ex.err"
	read -r secs answer listed get_secs <"$tmp/ex"
	if [[ ${answer:-} != errno=0 || ${listed:-} != "$peers" ]]; then
		# wireguard-go 0.0.20220316 refuses more than 65536 peers ("too many peers").
		say "  $bin: a set of $peers peers failed: ${answer:-no answer}, $(grep -m1 -i 'error' "$tmp/log")"
		printf '{"impl":"%s","binary":"%s","peers":%d,"failed":true}\n' "$impl" "$bin" "$peers"
		solo_stop "$pid" "$ifname"
		pid=
		return
	fi
	out=$(printf '{"impl":"%s","binary":"%s","peers":%d,"seconds":%s,"get_seconds":%s,"rss_before_kib":%d,"rss_kib":%d,"maps_before":%d,"maps":%d}' \
		"$impl" "$bin" "$peers" "$secs" "$get_secs" "$rss0" "$(rss "$pid")" "$maps0" "$(maps "$pid")")
	solo_stop "$pid" "$ifname"
	pid=
	[[ $verbose == 1 ]] && say "  $out"
	printf '%s\n' "$out"
}

say "bench: peers, flowspreadd $FLOWSPREADD vs ${wggos[*]}; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$tmp/steps"
IFS=, read -ra ns_list <<<"$counts"
for n in "${ns_list[@]}"; do
	peers_request "$n" "$tmp/req$n" \
		"private_key=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')\\nlisten_port=51900\\n"
	step fs "$FLOWSPREADD" "$n" >>"$tmp/steps"
	for w in "${wggos[@]}"; do
		step wg "$w" "$n" >>"$tmp/steps"
	done
done

python3 - "$tmp/steps" "${json:-}" "$(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null)" <<-'EOF'
import json, sys, time
steps = [json.loads(l) for l in open(sys.argv[1])]
print('%-8s %-28s %9s %9s %11s %9s %8s %9s %9s %8s' % ('peers', 'daemon', 'set (s)', 'get (s)',
      'VmRSS KiB', 'B/peer', 'maps', 'fs/wg t', 'fs/wg get', 'fs/wg B'))
for s in steps:
    fs = next(x for x in steps if x['impl'] == 'fs' and x['peers'] == s['peers'])
    if s.get('failed'):
        print('%-8d %-28s %9s' % (s['peers'], s['binary'][-28:], 'failed'))
        continue
    per = (s['rss_kib'] - s['rss_before_kib']) * 1024 / s['peers']
    fs_per = (fs['rss_kib'] - fs['rss_before_kib']) * 1024 / fs['peers']
    name = 'flowspreadd' if s['impl'] == 'fs' else s['binary']
    ratio_t = '' if s['impl'] == 'fs' else '%.2f' % (fs['seconds'] / s['seconds'])
    ratio_g = '' if s['impl'] == 'fs' else '%.2f' % (fs['get_seconds'] / s['get_seconds'])
    ratio_m = '' if s['impl'] == 'fs' else '%.2f' % (fs_per / per if per else 0)
    print('%-8d %-28s %9.2f %9.2f %11d %9.0f %8d %9s %9s %8s' % (s['peers'], name[-28:], s['seconds'],
          s['get_seconds'], s['rss_kib'], per, s['maps'], ratio_t, ratio_g, ratio_m))
if sys.argv[2]:
    json.dump({'commit': sys.argv[3], 'date': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
               'steps': steps}, open(sys.argv[2], 'w'), indent=1)
EOF
