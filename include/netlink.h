/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The guard of a local spread prefix (docs/spreading.md), over rtnetlink.
 * A local route for a whole prefix would expose every service of the host
 * on all of its addresses, so for a prefix P of interface IFNAME:
 *
 *   table T (private)   local P dev lo                  proto 70
 *   rule 18003          to P ipproto udp dport LOW-HIGH lookup T   (one per range)
 *   rule 18004          to P ipproto ipv6-icmp (icmp)   lookup T
 *   table main          unreachable P metric T          proto 70
 *
 * UDP to the daemon's ports and ICMPv6 (Packet Too Big above all) reach
 * the host's sockets on every address of P; anything else meets the
 * unreachable route, which a firewall ruleset flush does not touch.
 *
 * T = FS_GUARD_TABLE_BASE + a 16-bit hash of IFNAME: the name, not the
 * ifindex, because the TUN of a crashed daemon is gone and its successor
 * gets a new index, yet must find the leftovers. Ours are recognised by
 * T: the whole table T, rules with a priority in FS_GUARD_PRIO_FIRST..
 * FS_GUARD_PRIO_LAST that look up T, and unreachable routes of main with
 * protocol FS_GUARD_PROTO and metric T. Two interface names whose hashes
 * collide would share T (1 in 65536 per pair of names in a namespace).
 *
 * Sending from an address of P (IPV6_PKTINFO) needs IPV6_FREEBIND on the
 * socket, since P's addresses are not assigned (EINVAL without it):
 * fs_guard_set_freebind. Receiving needs nothing more.
 *
 * Functions return 0 or -errno; on failure they write a message naming the
 * prefix and what failed into err (if not NULL). Each change is one
 * request whose ACK is read and checked.
 */
#ifndef FLOWSPREAD_NETLINK_H
#define FLOWSPREAD_NETLINK_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>
#include "addr.h"
#include "config.h"	/* struct fs_port_range */

enum {
	FS_GUARD_TABLE_BASE = 0x46530000,	/* "FS": tables 0x46530000..0x4653ffff */
	FS_GUARD_PRIO_UDP = 18003,		/* 0x4653, before wg-quick's 32764/32765 */
	FS_GUARD_PRIO_ICMP = 18004,
	FS_GUARD_PRIO_FIRST = 18003,		/* the rule priorities that are ours */
	FS_GUARD_PRIO_LAST = 18009,
	FS_GUARD_PROTO = 70,			/* rtm_protocol of our routes ("proto 70") */
	FS_GUARD_MAX_RANGES = 8,
};

struct fs_guard {
	char ifname[IF_NAMESIZE];
	struct fs_prefix prefix;		/* host bits are ignored */
	struct fs_port_range ranges[FS_GUARD_MAX_RANGES];
	unsigned int n_ranges;
	/* Set by fs_guard_install: how many of its steps are in place. */
	unsigned int installed;
};

/* The private table of IFNAME. */
uint32_t fs_guard_table(const char *ifname);

/* Installs everything, or nothing (what was done is rolled back). */
int fs_guard_install(struct fs_guard *guard, char *err, size_t errlen);
/* Deletes exactly what fs_guard_install put in place. */
int fs_guard_remove(struct fs_guard *guard, char *err, size_t errlen);
/*
 * Deletes every guard entry of IFNAME, whatever its prefix: the leftovers
 * of a crashed run. Call it before the first fs_guard_install.
 */
int fs_guard_cleanup(const char *ifname, char *err, size_t errlen);

/*
 * -EADDRINUSE, with a message, if prefix overlaps an address assigned on
 * the host (as ADDR/LEN: the address or its connected prefix) or an on-link
 * route of the main table (no gateway, not a default route): `local P'
 * would override it. 0 if it does not; another -errno if the dumps failed.
 */
int fs_guard_check(const struct fs_prefix *prefix, char *err, size_t errlen);

/* IPV6_FREEBIND (AF_INET6) or IP_FREEBIND (AF_INET) on fd. */
int fs_guard_set_freebind(int fd, int family);

#endif
