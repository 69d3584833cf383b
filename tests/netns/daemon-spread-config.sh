#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Spreading configuration that only the running daemon can judge, and the
# prefix guard's lifecycle (docs/spreading.md and flowspreadd(8)): refused with a
# message naming the value, and nothing applied, are a local prefix
# overlapping an address of the host, a mode without what it needs, a
# port range holding the listen port and a peer prefix overlapping the
# local one. An accepted prefix gets its guard (policy rule for UDP to the
# listen port, local route in a private table, unreachable route in
# main); a new listen port moves the rule; exit removes it all; leftovers
# of a daemon killed with SIGKILL are removed by the next start.
#
#  +-----------------------------------------+
#  | fsns$$-a                                |
#  |  flowspreadd wgfs$$0                    |
#  |  veth0 2001:db8:1::1/64 ----------------+---- veth0 (fsns$$-b)
#  +-----------------------------------------+

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon

CTL=$top_builddir/flowspreadctl
ns_create a; a=$REPLY
ns_create b; b=$REPLY
veth_pair "$a" "$b"
ip -n "$a" addr add 2001:db8:1::1/64 dev veth0 nodad

wg_ifname; aif=$REPLY
flowspreadd_start "$a" "$aif"
n "$a" wg set "$aif" private-key <(wg genkey) listen-port 51820 || fail "wg set failed"
peer=$(wg genkey | wg pubkey)
rules() { n "$a" ip -6 rule | grep -E '^180[0-9][0-9]:' || true; }
get() { printf 'get=1\n\n' | uapi_raw "$aif" | grep -v '^last_handshake\|^endpoint_state\|^spread_source'; }
refused()
{
	local what=$1 before after
	shift
	before=$(get)
	n "$a" "$CTL" set "$aif" "$@" >"$fs_tmp/ctl.out" 2>&1 && fail "$what: accepted: $*"
	after=$(get)
	[[ $before == "$after" ]] || fail "$what: refused but the configuration changed"
	grep -q "$what" "$fs_tmp/$aif.log" || fail "$what: the daemon's log does not say why: $(tail -n 3 "$fs_tmp/$aif.log")"
	say "refused: $* ($what)"
}

say "=== refused, whole"
refused 'overlaps the address 2001:db8:1::1/64' spread-prefix 2001:db8:1::/64
refused 'overlaps the address 2001:db8:1::1/64' spread-prefix 2001:db8:1:0:8000::/65
refused 'spread_mode=ports needs spread_ports' spread-mode ports
refused 'spread_mode=addresses needs a spread_prefix' spread-mode addresses
refused 'contains the listen port 51820' spread-ports 51000-52000
refused 'overlaps the local spread_prefix' spread-prefix 2001:db8:ff::/64 peer "$peer" spread-prefix 2001:db8:ff:0:1::/80
[[ -z $(rules) ]] || fail "a refused set left rules: $(rules)"

say "=== accepted: 2001:db8:ff::/64 gets its guard"
n "$a" "$CTL" set "$aif" spread-prefix 2001:db8:ff::/64 || fail "a valid spread prefix was refused"
rules | tee "$fs_tmp/rules"
grep -q 'to 2001:db8:ff::/64 ipproto udp dport 51820 lookup' "$fs_tmp/rules" || fail "no UDP rule for port 51820"
grep -q 'to 2001:db8:ff::/64 ipproto ipv6-icmp lookup' "$fs_tmp/rules" || fail "no ICMPv6 rule"
t=$(sed -n 's/.*dport 51820 lookup \([0-9]*\).*/\1/p' "$fs_tmp/rules")
n "$a" ip -6 route show table "$t" | grep -q '^local 2001:db8:ff::/64 dev lo' || fail "no local route in table $t"
n "$a" ip -6 route show table main | grep -q '^unreachable 2001:db8:ff::/64' || fail "no unreachable route in main"
get | grep -q '^spread_prefix=2001:db8:ff::/64$' || fail "get does not show the prefix"

say "=== a new listen port moves the rule"
n "$a" wg set "$aif" listen-port 51900 || fail "listen-port 51900 refused"
rules | tee "$fs_tmp/rules"
grep -q 'dport 51900 lookup' "$fs_tmp/rules" || fail "the rule did not follow the port"
grep -q 'dport 51820' "$fs_tmp/rules" && fail "the old port's rule stayed"

say "=== exit removes the guard"
daemon_stop "$aif" || fail "flowspreadd exited with status $?"
[[ -z $(rules) ]] || fail "rules left after exit: $(rules)"
n "$a" ip -6 route show table all | grep -q '2001:db8:ff::' && fail "routes left after exit"

say "=== SIGKILL leaves the guard; the next start removes it"
flowspreadd_start "$a" "$aif"
n "$a" "$CTL" set "$aif" listen-port 51820 spread-prefix 2001:db8:ff::/64 || fail "set failed"
[[ -n $(rules) ]] || fail "no rules installed"
kill -KILL "${fs_daemon_pid[$aif]}"
daemon_wait "$aif"
[[ -n $(rules) ]] || fail "SIGKILL left no rules to clean up: the check proves nothing"
rm -f "/var/run/wireguard/$aif.sock"
until_true 5 bash -c "! ip -n $a link show $aif >/dev/null 2>&1"
flowspreadd_start "$a" "$aif"
[[ -z $(rules) ]] || fail "the next start left the dead daemon's rules: $(rules)"
n "$a" ip -6 route show table all | grep -q '2001:db8:ff::' && fail "the next start left routes"
daemon_stop "$aif" || fail "flowspreadd exited with status $?"
say "PASS: bad spreading settings refused whole; the prefix guard installed, moved, removed and cleaned up"
exit 0
