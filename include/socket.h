/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FLOWSPREAD_SOCKET_H
#define FLOWSPREAD_SOCKET_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Opens n dual-stack UDP sockets in one SO_REUSEPORT group on port (0:
 * the kernel picks one for the first and the rest follow), receiving the
 * local address of each datagram (IPV6_PKTINFO, v4-mapped for IPv4), with fwmark
 * if nonzero. Fills fds[0..n) and *bound; -errno and nothing open on
 * failure.
 */
int fs_socket_open_group(int *fds, unsigned int n, uint16_t port, uint32_t fwmark,
			 uint16_t *bound);
/*
 * Ports mode: one dual-stack socket per port of low..high (fds[port -
 * low]), not in a reuseport group, so that another process bound to one
 * of the ports is an error (*failed says which), not a silent share.
 * -errno and nothing open on failure.
 */
int fs_socket_open_ports(int *fds, uint16_t low, uint16_t high, uint32_t fwmark, bool freebind,
			 uint16_t *failed);
void fs_socket_close_group(int *fds, unsigned int n);
int fs_socket_set_mark(int *fds, unsigned int n, uint32_t fwmark);
/* IPV6_FREEBIND and IP_FREEBIND on or off: on while the device spreads sources. */
int fs_socket_set_freebind(int *fds, unsigned int n, bool on);

#endif
