/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FLOWSPREAD_TUN_H
#define FLOWSPREAD_TUN_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

#define FS_TUN_CLONE "/dev/net/tun"

/*
 * Opens one queue of the multi-queue TUN device "name" (created on the
 * first call), non-blocking, without packet information, with a
 * struct virtio_net_hdr before every packet if vnet_hdr. On success the
 * kernel's name for it is written back to name. -errno on failure, and
 * msg says which step failed and what would help (a missing
 * /dev/net/tun, a missing CAP_NET_ADMIN).
 */
int fs_tun_open_queue(char name[IFNAMSIZ], bool multi_queue, bool vnet_hdr, char *msg,
		      size_t msglen);
/*
 * Lets the kernel hand us TCP segments of up to 64 KiB and unfinished
 * checksums (TUN_F_CSUM, TSO4, TSO6); needs vnet headers.
 */
int fs_tun_enable_offloads(int fd);
/* The name of the TUN device behind fd, whether it is multi-queue and has vnet headers. */
int fs_tun_describe(int fd, char name[IFNAMSIZ], bool *multi_queue, bool *vnet_hdr);
int fs_tun_set_mtu(const char *name, unsigned int mtu);
int fs_tun_get_mtu(const char *name, unsigned int *mtu);

#endif
