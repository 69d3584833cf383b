/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The protocol core never reads a clock on its own: every function that
 * depends on time takes "now" as nanoseconds of CLOCK_BOOTTIME (which keeps
 * counting during suspend, like the kernel's ktime_get_coarse_boottime).
 * Tests pass any value they like.
 */
#ifndef FLOWSPREAD_CLOCK_H
#define FLOWSPREAD_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define FS_NSEC_PER_SEC UINT64_C(1000000000)
#define FS_NSEC_PER_MSEC UINT64_C(1000000)

static inline uint64_t fs_clock_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * FS_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* True once "seconds" have passed since "birthdate". */
static inline bool fs_has_expired(uint64_t birthdate, uint64_t seconds, uint64_t now)
{
	return now >= birthdate + seconds * FS_NSEC_PER_SEC;
}

#endif
