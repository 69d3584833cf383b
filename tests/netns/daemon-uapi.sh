#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The UAPI, raw (python's socket) and through `wg':
#  - flowspreadd and wireguard-go given the same `wg setconf' file answer
#    get=1 with the same standard keys in the same order and the same values
#    (flowspreadd's extension keys aside), peer by peer;
#  - several requests on one connection, sent at once or a byte at a time,
#    are answered in order;
#  - a set=1 with an unknown key or a malformed value answers errno=-22
#    (after an error= line with the reason) and
#    changes nothing, also when the bad line comes after good ones (get=1
#    before and after are identical);
#  - what the kernel's selftest checks with `wg': keys set to /dev/null
#    read "(none)", the private key is clamped, a peer with our own public
#    key is removed or ignored, "(none)" for a peer without allowed-ips;
#  - peers whose public keys are low-order points get nothing sent to them,
#    even with persistent-keepalive 1.
#
#  +-------------------------------+      +-------------------------------+
#  | fsns$$-a                      |      | fsns$$-g                      |
#  |  flowspreadd wgfs$$0          |      |  wireguard-go wgfs$$1         |
#  |  lo 127.0.0.1, UDP 1111 watch |      |                               |
#  +-------------------------------+      +-------------------------------+

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon python3

ns_create a; a=$REPLY
ns_create g; g=$REPLY
wg_ifname; fif=$REPLY
wg_ifname; gif=$REPLY
flowspreadd_start "$a" "$fif"
wggo_start "$g" "$gif"

hex() { base64 -d <<<"$1" | od -An -v -tx1 | tr -d ' \n'; }
for i in 1 2 3 4; do
	key[i]=$(wg genkey)
	pub[i]=$(wg pubkey <<<"${key[i]}")
done
psk=$(wg genpsk)

say "=== get=1 after the same setconf: flowspreadd's standard keys as wireguard-go's"
cat >"$fs_tmp/same.conf" <<-EOF
	[Interface]
	PrivateKey = ${key[1]}
	ListenPort = 51820
	FwMark = 0x1234
	[Peer]
	PublicKey = ${pub[2]}
	PresharedKey = $psk
	Endpoint = 192.0.2.2:51821
	PersistentKeepalive = 25
	AllowedIPs = 198.51.100.2/32, fd00:1::2/128, 198.51.100.128/25
	[Peer]
	PublicKey = ${pub[3]}
	Endpoint = [2001:db8::3]:51823
	AllowedIPs = 2001:db8:3::/48
	[Peer]
	PublicKey = ${pub[4]}
	EOF
n "$a" wg setconf "$fif" "$fs_tmp/same.conf" || fail "wg setconf $fif failed"
n "$g" wg setconf "$gif" "$fs_tmp/same.conf" || fail "wg setconf $gif failed"
printf 'get=1\n\n' | uapi_raw "$fif" >"$fs_tmp/fs.get"
printf 'get=1\n\n' | uapi_raw "$gif" >"$fs_tmp/go.get"
python3 - "$fs_tmp/fs.get" "$fs_tmp/go.get" <<-'EOF' || fail "flowspreadd's get=1 differs from wireguard-go's"
	import sys
	EXTENSIONS = ('spread_prefix', 'spread_mode', 'spread_ports', 'spread_pairs',
	              'endpoint_limit', 'steer', 'steer_qdisc', 'endpoint_alt',
	              'endpoint_count', 'endpoint_count_max', 'endpoint_state', 'spread_source')
	def blocks(path, drop):
	    """[device lines, peer lines...], peers sorted by public key"""
	    out = [[]]
	    for line in open(path).read().split('\n'):
	        if not line:
	            continue
	        k = line.split('=', 1)[0]
	        if k in drop or k == 'errno':
	            continue
	        if k == 'public_key':
	            out.append([])
	        out[-1].append(line)
	    return [out[0]] + sorted(out[1:])
	fs, go = blocks(sys.argv[1], EXTENSIONS), blocks(sys.argv[2], ())
	ok = all(open(f).read().endswith('\nerrno=0\n\n') for f in sys.argv[1:])
	ok = ok and len(fs) == len(go)
	for f, g in zip(fs, go):
	    if f != g:
	        ok = False
	        print('flowspreadd:  ' + ' '.join(f)[:400], file=sys.stderr)
	        print('wireguard-go: ' + ' '.join(g)[:400], file=sys.stderr)
	print('%d blocks (the device and %d peers), %d lines, alike' %
	      (len(fs), len(fs) - 1, sum(map(len, fs))))
	sys.exit(not ok)
	EOF

say "=== several requests on one connection, at once and a byte at a time"
for chunk in 0 1; do
	n "$a" wg set "$fif" listen-port 51820
	printf 'get=1\n\nset=1\nlisten_port=51830\n\nget=1\n\nset=1\nbogus=1\n\nget=1\n\n' |
		uapi_raw "$fif" "$chunk" >"$fs_tmp/multi.out"
	python3 - "$fs_tmp/multi.out" <<-'EOF' || fail "answers to 5 requests on one connection (chunk $chunk) are wrong"
	import sys
	a = open(sys.argv[1]).read().split('\n\n')[:-1]
	assert len(a) == 5, 'expected 5 answers, got %d' % len(a)
	assert a[0].endswith('errno=0') and 'listen_port=51820\n' in a[0], a[0]
	assert a[1] == 'errno=0', a[1]
	assert a[2] == a[0].replace('listen_port=51820', 'listen_port=51830'), a[2]
	assert a[3] == 'error=line 1: invalid UAPI device key "bogus"\nerrno=-22', a[3]
	assert a[4] == a[2], a[4]
	EOF
	say "chunk ${chunk/#0/all}: get, set, get (the new port), bad set (errno=-22), get (unchanged)"
done

say "=== a bad set=1 answers errno=-22 and changes nothing"
new_key=$(hex "$(wg genkey)")
new_pub=$(hex "$(wg genkey)")
p2=$(hex "${pub[2]}")
p3=$(hex "${pub[3]}")
bad_sets=(
	"bogus_key=1"
	"listen_port=notaport"
	"listen_port=65536"
	"private_key=zz"
	"private_key=${new_key}00"
	"fwmark=0x"
	"listen_port=51999\npublic_key=$new_pub\nallowed_ip=198.51.100.7/33"
	"private_key=$new_key\nreplace_peers=true\npublic_key=$new_pub\nendpoint=[2001:db8::1"
	"public_key=$p2\npersistent_keepalive_interval=65536"
	"public_key=$p2\nremove=true\npublic_key=$p3\nbogus=1"
	"public_key=$p2\nprotocol_version=2"
	"replace_peers=true\npublic_key=$new_pub\nallowed_ip=bad"
	"public_key=$p3\nreplace_allowed_ips=true\nallowed_ip=2001:db8::/129"
	"public_key=$p2\npreshared_key=$new_key\nendpoint=192.0.2.300:1"
	"public_key=$p3\nupdate_only=maybe"
	"spread_mode=sideways"
	"public_key=$p2\nspread_nonsense=1"
)
printf 'get=1\n\n' | uapi_raw "$fif" >"$fs_tmp/before"
for body in "${bad_sets[@]}"; do
	answer=$(printf 'set=1\n%b\n\n' "$body" | uapi_raw "$fif")
	[[ $answer == $'error=line '[0-9]*$'\nerrno=-22' ]] ||
		fail "set=1 \"${body//\\n/ }\" answered \"$answer\", expected error=line N: REASON, then errno=-22"
	printf 'get=1\n\n' | uapi_raw "$fif" >"$fs_tmp/after"
	cmp -s "$fs_tmp/before" "$fs_tmp/after" || {
		diff "$fs_tmp/before" "$fs_tmp/after" | head -n 10
		fail "set=1 \"${body//\\n/ }\" was refused but changed the configuration"
	}
done
say "${#bad_sets[@]} bad sets refused with errno=-22, the configuration unchanged"

say "=== as the kernel's selftest does with wg"
n "$a" wg set "$fif" private-key <(echo "${key[1]}") peer "${pub[2]}" preshared-key <(echo "$psk")
[[ $(n "$a" wg show "$fif" private-key) == "${key[1]}" ]] || fail "wg show private-key is not the key set"
[[ $(n "$a" wg show "$fif" preshared-keys | grep -F "${pub[2]}") == "${pub[2]}	$psk" ]] ||
	fail "wg show preshared-keys is not the key set"
n "$a" wg set "$fif" private-key /dev/null peer "${pub[2]}" preshared-key /dev/null
[[ $(n "$a" wg show "$fif" private-key) == "(none)" ]] || fail "private-key /dev/null does not read (none)"
[[ $(n "$a" wg show "$fif" preshared-keys | grep -F "${pub[2]}") == "${pub[2]}	(none)" ]] ||
	fail "preshared-key /dev/null does not read (none)"
n "$a" wg setconf "$fif" <(printf '[Interface]\n[Peer]\nPublicKey = %s\n' "${pub[2]}")
n "$a" wg set "$fif" private-key <(echo "${key[2]}")
[[ $(n "$a" wg show "$fif" public-key) == "${pub[2]}" ]] || fail "wg show public-key is wrong"
[[ -z $(n "$a" wg show "$fif" peers) ]] || fail "the peer with our own public key was not removed"
n "$a" wg set "$fif" peer "${pub[2]}"
[[ -z $(n "$a" wg show "$fif" peers) ]] || fail "a peer with our own public key was added"
n "$a" wg set "$fif" private-key <(echo "${key[1]}")
n "$a" wg set "$fif" peer "${pub[2]}"
[[ $(n "$a" wg show "$fif" peers) == "${pub[2]}" ]] || fail "the peer was not added"
n "$a" wg set "$fif" private-key <(echo "/${key[1]:1}")
[[ $(n "$a" wg show "$fif" private-key) == "+${key[1]:1}" ]] ||
	fail "the private key /${key[1]:1} was not clamped to +${key[1]:1}"
allowed=$(printf 'abcd::%x,' {1..197})
n "$a" wg setconf "$fif" <(printf '[Interface]\n[Peer]\nPublicKey = %s\n' "${pub[3]}")
n "$a" wg set "$fif" peer "${pub[2]}" allowed-ips "${allowed%,}"
n "$a" wg show "$fif" allowed-ips >"$fs_tmp/allowed"
[[ $(grep -F "${pub[3]}" "$fs_tmp/allowed") == "${pub[3]}	(none)" ]] ||
	fail "a peer without allowed-ips does not show (none)"
[[ $(grep -F "${pub[2]}" "$fs_tmp/allowed" | wc -w) == 198 ]] ||
	fail "wg show allowed-ips does not list the 197 prefixes"
say "keys to /dev/null, clamping, our own key as a peer, (none): as the kernel does"

say "=== low-order public keys: nothing is sent to such peers"
n "$a" wg setconf "$fif" <(printf '[Interface]\nPrivateKey = %s\n' "${key[1]}")
ip -n "$a" link set "$fif" up
n "$a" python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 1111))
print("listening", flush=True)
s.settimeout(3)
try:
    data, peer = s.recvfrom(2048)
    print("received %d bytes from %s" % (len(data), peer))
except socket.timeout:
    print("nothing")' >"$fs_tmp/udp.out" 2>&1 &
pid=$!
track "$pid"
until_true 5 grep -q listening "$fs_tmp/udp.out" || fail "the UDP listener did not start"
for point in AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
	4Ot6fDtBuK4WVuP68Z/EatoJjeucMrH9hmIFFl9JuAA= X5yVvKNQjCSx0LFVnIPvWwREXMRYHI6G2CJO3dCfEVc= \
	7P///////////////////////////////////////38= 7f///////////////////////////////////////38= \
	7v///////////////////////////////////////38=; do
	n "$a" wg set "$fif" peer "$point" persistent-keepalive 1 endpoint 127.0.0.1:1111 ||
		fail "wg set peer $point failed"
done
[[ $(n "$a" wg show "$fif" peers | wc -l) == 7 ]] || fail "the 7 low-order peers are not all there"
reap "$pid"
[[ $(tail -n 1 "$fs_tmp/udp.out") == nothing ]] || fail "sent to a low-order peer: $(tail -n 1 "$fs_tmp/udp.out")"
alive "${fs_daemon_pid[$fif]}" || fail "flowspreadd ended"
say "7 low-order peers with keepalives: nothing sent in 3 s"

daemon_stop "$fif" || fail "flowspreadd exited with status $?"
say "PASS: the UAPI answers as wireguard-go's, request by request, whole or nothing"
exit 0
