/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Allocation failures on demand, for the unit tests. A test program that
 * defines fs_failpoint() (a weak symbol here) is asked before each
 * allocation of the kinds below and makes it fail, as out of memory, by
 * answering true. The daemon does not define it: the check is then one
 * comparison with NULL.
 */
#ifndef FLOWSPREAD_FAILPOINT_H
#define FLOWSPREAD_FAILPOINT_H

#include <stdbool.h>

enum fs_failpoint {
	FS_FAILPOINT_ENDPOINTS,		/* a peer's endpoint table (fs_endpoints_alloc) */
	FS_FAILPOINT_SPREAD,		/* spread settings (fs_spread_settings_alloc) */
	FS_FAILPOINT_PEER_HASH,		/* a set's peer table (fs_peer_hash_alloc) */
};

bool fs_failpoint(enum fs_failpoint what) __attribute__((weak));

static inline bool fs_failpoint_hit(enum fs_failpoint what)
{
	return fs_failpoint && fs_failpoint(what);
}

#endif
