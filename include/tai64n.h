/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FLOWSPREAD_TAI64N_H
#define FLOWSPREAD_TAI64N_H

#include <stdint.h>
#include "messages.h"

/*
 * Big-endian seconds since 1970 plus 2^62 + 10, then big-endian nanoseconds.
 * fs_tai64n_now() rounds the nanoseconds down to a multiple of 2^24 (about
 * 16.8 ms, below 1/WG_INITIATIONS_PER_SECOND) so that a timestamp does not
 * leak the precise clock, as the kernel driver and wireguard-go do.
 */
void fs_tai64n_from(uint8_t out[WG_TIMESTAMP_LEN], uint64_t unix_seconds, uint32_t nanoseconds);
void fs_tai64n_now(uint8_t out[WG_TIMESTAMP_LEN]);

#endif
