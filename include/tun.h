/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FLOWSPREAD_TUN_H
#define FLOWSPREAD_TUN_H

#include <net/if.h>
#include <stdbool.h>

/*
 * Opens one queue of the multi-queue TUN device "name" (created on the
 * first call), non-blocking, without packet information. On success the
 * kernel's name for it is written back to name. -errno on failure.
 */
int fs_tun_open_queue(char name[IFNAMSIZ], bool multi_queue);
/* The name of the TUN device behind fd and whether it is multi-queue. */
int fs_tun_describe(int fd, char name[IFNAMSIZ], bool *multi_queue);
int fs_tun_set_mtu(const char *name, unsigned int mtu);
int fs_tun_get_mtu(const char *name, unsigned int *mtu);

#endif
