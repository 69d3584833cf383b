#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Handshake wait behind the UAPI: how long a legitimate peer's handshake
# waits while the daemon answers one `get' of N peers, and while it applies
# one `set' adding N peers; flowspreadd beside wireguard-go (Debian's, and
# any binary given with --wireguard-go PATH), in the same run.
#
# Each step starts a fresh daemon in our namespace fsbench$$-h, gives it a
# private key, a listen port and one peer, the probe (wg-probe, a
# WireGuard initiator on the protocol core, in the same namespace over
# loopback: 127.0.0.1, inner 192.0.2.2 -> 192.0.2.1 on the daemon's
# interface), and for `get' N more peers (random keys, one allowed IP
# each). The probe completes one handshake and echo with the daemon idle
# (the "idle" figure). Then, from one python3 process: the request is
# sent (`get=1', or a `set' of N new peers), wg-probe is started at once,
# and the answer is read in a thread. Every line wg-probe prints is time
# stamped on arrival (it prints line-buffered): the wait is from its first
# "-> handshake initiation" to its "<- handshake response" (wg-probe sends
# a new initiation each second without an answer: "inits" counts them).
# The step counts only if the first initiation left before the UAPI answer
# was complete ("during"). wireguard-go refuses more than 65,536 peers, so
# it runs only at N <= 65,536. Nothing leaves the namespace; the EXIT trap
# ends what we started by PID and deletes the namespace.
#
# A benchmark, not a test: `make check' does not run it. Root only.

set -u
export LC_ALL=C

usage()
{
	cat <<-EOF
	Usage: bench/handshake-wait.sh [--peers N[,N...]] [--wireguard-go PATH]...
	                               [--flowspreadd PATH] [--probe PATH] [--json PATH]
	                               [--verbose]

	How long a peer's handshake waits while a get of N peers, and a set of N
	new peers, runs (default N: 10000,100000), flowspreadd against
	wireguard-go (Debian's; --wireguard-go PATH adds a binary, repeatable;
	only at N <= 65536). As root. Build the daemon and tests/netns/wg-probe
	without sanitizers first.
	EOF
}

FLOWSPREADD=${FLOWSPREADD:-$(cd "$(dirname "$0")/.." && pwd)/flowspreadd}
PROBE=
counts=10000,100000
wggos=()
json=
verbose=0
while (($#)); do
	case $1 in
	--peers) counts=$2; shift 2 ;;
	--wireguard-go) wggos+=("$2"); shift 2 ;;
	--flowspreadd) FLOWSPREADD=$2; shift 2 ;;
	--probe) PROBE=$2; shift 2 ;;
	--json) json=$2; shift 2 ;;
	--verbose) verbose=1; shift ;;
	-h|--help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
command -v wireguard-go >/dev/null && wggos=("$(command -v wireguard-go)" "${wggos[@]}")
[[ -n $PROBE ]] || PROBE=$(dirname "$FLOWSPREADD")/tests/netns/wg-probe

bench_dir=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$bench_dir/lib.sh"
[[ $(id -u) == 0 ]] || die "run as root (network namespaces, TUN devices)"
[[ -x $FLOWSPREADD ]] || die "$FLOWSPREADD: no such program (build it, or give --flowspreadd PATH)"
[[ -x $PROBE ]] || die "$PROBE: no such program (make tests/netns/wg-probe, or give --probe PATH)"
command -v wg >/dev/null || die "no wg: apt-get install wireguard-tools"
bench_unsanitized "$FLOWSPREADD" "$PROBE"
((${#wggos[@]})) || die "no wireguard-go: apt-get install wireguard-go, or give --wireguard-go PATH"

ns=fsbench$$-h
ifname=fsh$$
ifname=${ifname:0:15}
sock=/var/run/wireguard/$ifname.sock
port=51900
umask 077
tmp=$(mktemp -d /tmp/fsbench-hswait.XXXXXX)
pid=
cleanup()
{
	if [[ -n $pid ]]; then
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	ip netns del "$ns" 2>/dev/null
	rm -f "$sock"
	rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns" || die "cannot create namespace $ns"
ip -n "$ns" link set lo up

wg genkey >"$tmp/probe.key"
probe_pub=$(wg pubkey <"$tmp/probe.key")
daemon_pub=
# hex: a base64 key on stdin, in hex.
hex() { base64 -d | od -An -tx1 | tr -d ' \n'; }
probe_hex=$(printf '%s' "$probe_pub" | hex)

# ask FILE: sends the request in FILE, prints the answer's last line.
ask()
{
	ip netns exec "$ns" python3 - "$sock" "$1" <<-'EOF'
	import socket, sys
	s = socket.socket(socket.AF_UNIX)
	s.settimeout(600)
	s.connect(sys.argv[1])
	s.sendall(open(sys.argv[2], 'rb').read())
	got = bytearray()
	while not (got.endswith(b'\n\n') and b'errno=' in got[-16:]):
	    more = s.recv(1 << 20)
	    if not more:
	        break
	    got += more
	print(got.decode().split()[-1] if got.strip() else 'no answer')
	EOF
}

# timed FILE: sends FILE, starts wg-probe at once; a JSON object of the times.
timed()
{
	ip netns exec "$ns" python3 - "$sock" "$1" "$PROBE" "$tmp/probe.key" "$daemon_pub" "$port" <<-'EOF'
	import json, socket, subprocess, sys, threading, time
	path, req, probe, key, pub, port = sys.argv[1:7]
	data = open(req, 'rb').read()
	got = bytearray()
	done = {}
	def read_answer(s):
	    while not (got.endswith(b'\n\n') and b'errno=' in got[-16:]):
	        more = s.recv(1 << 20)
	        if not more:
	            break
	        got.extend(more)
	    done['answer'] = time.monotonic()
	s = socket.socket(socket.AF_UNIX)
	s.settimeout(600)
	s.connect(path)
	t0 = time.monotonic()
	s.sendall(data)
	reader = threading.Thread(target=read_answer, args=(s,))
	reader.start()
	p = subprocess.Popen([probe, 'initiator', '--endpoint', '127.0.0.1:' + port,
	                      '--private-key', key, '--peer-public', pub,
	                      '--inner-src', '192.0.2.2', '--inner-dst', '192.0.2.1',
	                      '--timeout', '120'], stdout=subprocess.PIPE, text=True)
	first = resp = None
	inits = 0
	for line in p.stdout:
	    now = time.monotonic()
	    if line.startswith('-> handshake initiation'):
	        inits += 1
	        first = first or now
	    elif line.startswith('<- handshake response') and resp is None:
	        resp = now
	rc = p.wait()
	reader.join()
	s.close()
	answer = got.decode(errors='replace').split()
	out = {'uapi_s': round(done['answer'] - t0, 4), 'answer': answer[-1] if answer else 'none',
	       'probe_ok': rc == 0, 'inits': inits,
	       'first_init_ms': round((first - t0) * 1000, 2) if first else None,
	       'wait_ms': round((resp - first) * 1000, 2) if first and resp else None,
	       'during': bool(first and first < done['answer'])}
	print(json.dumps(out))
	EOF
}

# idle: one probe run with the daemon idle; the handshake wait in ms.
idle()
{
	ip netns exec "$ns" python3 - "$PROBE" "$tmp/probe.key" "$daemon_pub" "$port" <<-'EOF'
	import subprocess, sys, time
	probe, key, pub, port = sys.argv[1:5]
	p = subprocess.Popen([probe, 'initiator', '--endpoint', '127.0.0.1:' + port,
	                      '--private-key', key, '--peer-public', pub,
	                      '--inner-src', '192.0.2.2', '--inner-dst', '192.0.2.1',
	                      '--timeout', '30'], stdout=subprocess.PIPE, text=True)
	first = resp = None
	for line in p.stdout:
	    now = time.monotonic()
	    if line.startswith('-> handshake initiation'):
	        first = first or now
	    elif line.startswith('<- handshake response') and resp is None:
	        resp = now
	ok = p.wait() == 0 and first and resp
	print('%.2f' % ((resp - first) * 1000) if ok else 'failed')
	EOF
}

# step IMPL BINARY N OP: one fresh daemon; a JSON line on stdout.
step()
{
	local impl=$1 bin=$2 n=$3 op=$4 answer idle_ms out base
	solo_start "$impl" "$bin" "$ns" "$ifname" "$tmp/log" error
	pid=$REPLY
	ip -n "$ns" addr add 192.0.2.1/24 dev "$ifname"
	ip -n "$ns" link set "$ifname" up
	wg genkey >"$tmp/daemon.key"
	daemon_pub=$(wg pubkey <"$tmp/daemon.key")
	base="private_key=$(hex <"$tmp/daemon.key")\\nlisten_port=$port\\n"
	base+="public_key=$probe_hex\\nallowed_ip=192.0.2.2/32\\n"
	if [[ $op == get ]]; then
		peers_request "$n" "$tmp/base" "$base"
	else
		peers_request 0 "$tmp/base" "$base"
	fi
	answer=$(ask "$tmp/base")
	[[ $answer == errno=0 ]] || die "$bin: the first set failed: $answer $(cat "$tmp/log")"
	idle_ms=$(idle)
	[[ $idle_ms != failed ]] || die "$bin: the probe's handshake failed with the daemon idle"
	sleep 1	# past the initiation flood guard (50 a second)
	out=$(timed "$tmp/$op$n")
	[[ -n $out ]] || die "$bin: the timed run gave nothing"
	out=$(printf '{"impl":"%s","binary":"%s","peers":%d,"op":"%s","idle_ms":%s,%s' \
		"$impl" "$bin" "$n" "$op" "$idle_ms" "${out#\{}")
	solo_stop "$pid" "$ifname"
	pid=
	[[ $verbose == 1 ]] && say "  $out"
	printf '%s\n' "$out"
}

say "bench: handshake wait, flowspreadd $FLOWSPREADD vs ${wggos[*]}; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$tmp/steps"
IFS=, read -ra n_list <<<"$counts"
for n in "${n_list[@]}"; do
	peers_request "$n" "$tmp/set$n"
	printf 'get=1\n\n' >"$tmp/get$n"
	for op in get set; do
		step fs "$FLOWSPREADD" "$n" "$op" >>"$tmp/steps"
		((n <= 65536)) || continue
		for w in "${wggos[@]}"; do
			step wg "$w" "$n" "$op" >>"$tmp/steps"
		done
	done
done

python3 - "$tmp/steps" "${json:-}" "$(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null)" <<-'EOF'
import json, sys, time
steps = [json.loads(l) for l in open(sys.argv[1])]
print('%-8s %-4s %-28s %9s %9s %12s %6s %7s' % ('peers', 'op', 'daemon', 'uapi (s)', 'idle (ms)',
      'wait (ms)', 'inits', 'during'))
for s in steps:
    name = 'flowspreadd' if s['impl'] == 'fs' else s['binary']
    wait = '%.1f' % s['wait_ms'] if s['wait_ms'] is not None else 'none'
    print('%-8d %-4s %-28s %9.2f %9.2f %12s %6d %7s' % (s['peers'], s['op'], name[-28:], s['uapi_s'],
          s['idle_ms'], wait, s['inits'], 'yes' if s['during'] else 'NO'))
if sys.argv[2]:
    json.dump({'commit': sys.argv[3], 'date': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
               'steps': steps}, open(sys.argv[2], 'w'), indent=1)
EOF
