/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reserving the local spread_ports range (docs/spreading.md, `ports` mode)
 * in net.ipv4.ip_local_reserved_ports, so that the kernel never hands one
 * of the daemon's ports to another socket as an ephemeral port while the
 * daemon rebinds it. The sysctl is per network namespace and covers IPv4
 * and IPv6 alike.
 *
 * The sysctl's text: ports and inclusive ranges "a-b", comma-separated,
 * ascending, ranges for two or more consecutive ports; a read ends with a
 * newline and is a lone newline when nothing is reserved. A write replaces
 * the whole set (it is not an "add"), so reserving is read, add, write
 * back, and the caller keeps which ports it added (a bit per port of its
 * range) to give back only those: a port that someone else had reserved
 * before us stays reserved after a release. Nothing serialises writers of
 * the sysctl: another program doing the same read-modify-write at the same
 * moment can lose an update, ours or its own.
 *
 * A bitmap here is FS_PORT_BITMAP_BYTES bytes, port p being bit p % 8 of
 * byte p / 8; an `added` map is the same for port low + i at bit i.
 *
 * The kernel parses at most one page of a write at a time and ORs every
 * later piece of the same write into the set, so a long list (more than
 * about 4 KB) is written in pieces and, for that moment, the set holds
 * only the first piece's ports; the list is complete when the call
 * returns. Port 0 is never reserved through these calls.
 */
#ifndef FLOWSPREAD_PORTRESERVE_H
#define FLOWSPREAD_PORTRESERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	FS_PORT_BITMAP_BYTES = 65536 / 8,
	/*
	 * The longest text a valid list can have: every token covers at
	 * least one port and takes at most 6 bytes per port ("65535," or
	 * half of "65534-65535,"), plus a newline.
	 */
	FS_PORTLIST_TEXT_MAX = 65536 * 6 + 1,
};

/* The default path: the sysctl of the caller's network namespace. */
#define FS_PORTS_SYSCTL_PATH "/proc/sys/net/ipv4/ip_local_reserved_ports"

/*
 * Parses the sysctl's text into bitmap (cleared first; bit p set: port p
 * reserved). Decimal numbers only; whitespace (a newline) before and after
 * the list is allowed, nowhere else. False if malformed: a number above
 * 65535, a range a-b with a > b, an empty item, a sign, anything else;
 * the bitmap is then unspecified.
 */
bool fs_portlist_parse(uint8_t bitmap[FS_PORT_BITMAP_BYTES], const char *text);
/*
 * Writes bitmap as the sysctl takes it and shows it (without the
 * newline): ascending, runs of two or more consecutive ports as "a-b",
 * single ports as "a", comma-separated; "" when empty. Returns the length
 * of the whole text (as snprintf does), writes at most outlen bytes
 * including the NUL; out may be NULL when outlen is 0.
 */
size_t fs_portlist_format(char *out, size_t outlen, const uint8_t bitmap[FS_PORT_BITMAP_BYTES]);

/*
 * Reserves ports low..high (inclusive) in the sysctl at path (NULL:
 * FS_PORTS_SYSCTL_PATH): reads it, adds the range, writes it back (no
 * write when all were reserved already). added, (high - low + 1 + 7) / 8
 * bytes, gets bit i set for port low + i when this call added it. Returns
 * 0, or -errno and nothing changed: -EINVAL for low 0 or low > high (added
 * untouched) or a file that does not hold a valid list (or is longer than
 * FS_PORTLIST_TEXT_MAX, more than any list the kernel writes); the file's errors
 * (-ENOENT, -EACCES, ...; it is opened for reading and writing before
 * anything is read). After a failure past the arguments, added is all zero.
 */
int fs_ports_reserve(const char *path, uint16_t low, uint16_t high, uint8_t *added);
/*
 * Removes from the sysctl at path (NULL: the default) the ports of
 * low..high whose bit is set in added, as fs_ports_reserve filled it;
 * every other port stays, those of low..high whose bit is clear included
 * (no write when there is nothing to remove). Returns 0 or -errno
 * (-EINVAL for low 0 or low > high, or a malformed file).
 */
int fs_ports_release(const char *path, uint16_t low, uint16_t high, const uint8_t *added);

#endif
