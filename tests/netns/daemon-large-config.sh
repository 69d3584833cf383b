#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Configurations large enough that requests and replies take many reads and
# writes on the UAPI socket (the kernel's selftest does this for netlink's
# split replies): `wg setconf' of 2000 peers, each with a preshared key, an
# endpoint, a keepalive and 4 allowed-ips (IPv4 and IPv6); then one peer
# with 65792 allowed-ips (256 x 256 IPv6 /64s and 256 IPv4 /32s). Each
# time `wg show dump' has one line per peer (and the interface), `wg show
# allowed-ips' counts every prefix, and `wg showconf' gives back exactly
# what was set (compared peer by peer, the order of peers and of
# allowed-ips aside); setconf of that output onto a second flowspreadd
# shows the same again.
#
#  +-----------------------------------------------------------+
#  | fsns$$-a                                                  |
#  |                                                           |
#  |  flowspreadd wgfs$$0, flowspreadd wgfs$$1 (no traffic)    |
#  +-----------------------------------------------------------+

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon python3

peers=2000

ns_create a; a=$REPLY
wg_ifname; aif=$REPLY
wg_ifname; bif=$REPLY
flowspreadd_start "$a" "$aif"
flowspreadd_start "$a" "$bif"

# make_conf PEERS: a configuration with PEERS peers, random keys (any 32
# bytes are a valid Curve25519 public key as far as the UAPI cares).
make_conf()
{
	python3 - "$1" "$(wg genkey)" <<-'EOF'
	import base64, os, sys
	peers, private = int(sys.argv[1]), sys.argv[2]
	key = lambda: base64.b64encode(os.urandom(32)).decode()
	print('[Interface]\nPrivateKey = %s\nListenPort = 51820\nFwMark = 0x1234\n' % private)
	for i in range(peers):
	    ips = ['2001:db8:%x::/48' % i, 'fd00:%x::1/128' % i, 'fd00:%x::2/128' % i]
	    ips.append('198.51.100.%d/32' % i if i < 256 else
	               '192.0.2.%d/32' % (i - 256) if i < 512 else 'fd01:%x::/64' % i)
	    endpoint = ('192.0.2.%d:%d' % (i % 256, 1024 + i) if i % 2 else
	                '[2001:db8::%x]:%d' % (i, 1024 + i))
	    print('[Peer]\nPublicKey = %s\nPresharedKey = %s\nEndpoint = %s' % (key(), key(), endpoint))
	    print('PersistentKeepalive = %d\nAllowedIPs = %s\n' % (1 + i % 600, ', '.join(ips)))
	EOF
}

# canonical FILE: the configuration in FILE, peers sorted by public key and
# each peer's allowed-ips sorted, keys in a fixed order.
canonical()
{
	python3 - "$1" <<-'EOF'
	import ipaddress, sys
	def endpoint(v):	# canonical address text
	    host, port = v.rsplit(':', 1)
	    return '%s:%s' % (ipaddress.ip_address(host.strip('[]')), port)
	sections, cur = [], None
	for line in open(sys.argv[1]):
	    line = line.split('#')[0].strip()
	    if not line:
	        continue
	    if line.startswith('['):
	        cur = {'section': line}
	        sections.append(cur)
	        continue
	    k, v = (x.strip() for x in line.split('=', 1))
	    k = k.lower()
	    if k == 'allowedips':
	        cur.setdefault(k, []).extend(str(ipaddress.ip_network(x.strip()))
	                                     for x in v.split(',') if x.strip())
	    elif k == 'endpoint':
	        cur[k] = endpoint(v)
	    elif k == 'fwmark':
	        cur[k] = str(int(v, 0))
	    else:
	        cur[k] = v
	for s in sections:
	    if 'allowedips' in s:
	        s['allowedips'] = ','.join(sorted(s['allowedips']))
	sections.sort(key=lambda s: (s['section'] != '[Interface]', s.get('publickey', '')))
	for s in sections:
	    print(' '.join('%s=%s' % kv for kv in sorted(s.items())))
	EOF
}

# check IFNAME CONF PEERS PREFIXES: IFNAME shows what CONF set.
check()
{
	local ifname=$1 conf=$2 lines prefixes

	lines=$(n "$a" wg show "$ifname" dump | wc -l)
	[[ $lines == $(($3 + 1)) ]] ||
		fail "wg show $ifname dump: $lines lines, expected $(($3 + 1)) (the interface and $3 peers)"
	prefixes=$(n "$a" wg show "$ifname" allowed-ips | awk '{ n += NF - 1 } END { print n }')
	[[ $prefixes == "$4" ]] ||
		fail "wg show $ifname allowed-ips: $prefixes prefixes, expected $4"
	n "$a" wg showconf "$ifname" >"$fs_tmp/$ifname.shown" || fail "wg showconf $ifname failed"
	canonical "$conf" >"$fs_tmp/want"
	canonical "$fs_tmp/$ifname.shown" >"$fs_tmp/got"
	diff -u "$fs_tmp/want" "$fs_tmp/got" | head -n 20 | cut -c 1-300 >"$fs_tmp/diff"
	[[ -s $fs_tmp/diff ]] && { cat "$fs_tmp/diff"; fail "wg showconf $ifname differs from what was set"; }
	say "$ifname: $3 peers, $4 allowed-ips, showconf equal to what was set"
}

say "=== wg setconf: $peers peers, 4 allowed-ips each"
make_conf "$peers" >"$fs_tmp/big.conf"
SECONDS=0
n "$a" wg setconf "$aif" "$fs_tmp/big.conf" || fail "wg setconf $aif (big.conf) failed"
say "setconf took ${SECONDS}s"
check "$aif" "$fs_tmp/big.conf" "$peers" $((peers * 4))

say "=== showconf's output, setconf onto a second daemon"
n "$a" wg setconf "$bif" "$fs_tmp/$aif.shown" || fail "wg setconf $bif failed"
check "$bif" "$fs_tmp/big.conf" "$peers" $((peers * 4))

say "=== wg setconf: one peer with 65792 allowed-ips (replaces the $peers peers)"
{
	printf '[Interface]\nPrivateKey = %s\nListenPort = 51821\n[Peer]\nPublicKey = %s\n' \
		"$(wg genkey)" "$(wg genkey | wg pubkey)"
	for ((x = 0; x < 256; x++)); do
		printf 'AllowedIPs = '
		printf "2001:db8:$(printf %x "$x"):%x::/64," {0..255}
		printf '198.51.100.%d/32\n' "$x"
	done
} >"$fs_tmp/wide.conf"
SECONDS=0
n "$a" wg setconf "$aif" "$fs_tmp/wide.conf" || fail "wg setconf $aif (wide.conf) failed"
say "setconf took ${SECONDS}s"
check "$aif" "$fs_tmp/wide.conf" 1 $((256 * 256 + 256))

daemon_stop "$aif" || fail "flowspreadd $aif exited with status $?"
daemon_stop "$bif" || fail "flowspreadd $bif exited with status $?"
say "PASS: large configurations set, shown and set again intact"
exit 0
