// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "socket.h"

enum { SOCKET_BUFFER = 4 << 20 };

static int set_int(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value)) ? -errno : 0;
}

static int open_one(uint16_t port, bool reuseport, uint32_t fwmark, uint16_t *bound)
{
	struct sockaddr_in6 addr = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	socklen_t len = sizeof(addr);
	int fd, ret;

	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0)
		return -errno;
	if ((ret = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0)) ||
	    (reuseport && (ret = set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1))) ||
	    /* IPv4 datagrams report their local address as v4-mapped IPV6_PKTINFO too. */
	    (ret = set_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)) ||
	    (fwmark && (ret = set_int(fd, SOL_SOCKET, SO_MARK, (int)fwmark))))
		goto fail;
	/* Larger buffers absorb bursts; as root the FORCE variants pass rmem_max. */
	if (set_int(fd, SOL_SOCKET, SO_RCVBUFFORCE, SOCKET_BUFFER))
		set_int(fd, SOL_SOCKET, SO_RCVBUF, SOCKET_BUFFER);
	if (set_int(fd, SOL_SOCKET, SO_SNDBUFFORCE, SOCKET_BUFFER))
		set_int(fd, SOL_SOCKET, SO_SNDBUF, SOCKET_BUFFER);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    getsockname(fd, (struct sockaddr *)&addr, &len)) {
		ret = -errno;
		goto fail;
	}
	*bound = ntohs(addr.sin6_port);
	return fd;
fail:
	close(fd);
	return ret;
}

int fs_socket_open_group(int *fds, unsigned int n, uint16_t port, uint32_t fwmark,
			 uint16_t *bound)
{
	uint16_t first = port;

	for (unsigned int i = 0; i < n; ++i) {
		int fd = open_one(first, true, fwmark, bound);

		if (fd < 0) {
			fs_socket_close_group(fds, i);
			return fd;
		}
		fds[i] = fd;
		first = *bound;
	}
	return 0;
}

int fs_socket_open_ports(int *fds, uint16_t low, uint16_t high, uint32_t fwmark, bool freebind,
			 uint16_t *failed)
{
	for (unsigned int port = low; port <= high; ++port) {
		unsigned int i = port - low;
		uint16_t bound;
		int fd = open_one((uint16_t)port, false, fwmark, &bound);
		int ret = fd < 0 ? fd : fs_socket_set_freebind(&fd, 1, freebind);

		if (ret) {
			if (fd >= 0)
				close(fd);
			fs_socket_close_group(fds, i);
			*failed = (uint16_t)port;
			return ret;
		}
		fds[i] = fd;
	}
	return 0;
}

void fs_socket_close_group(int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; ++i) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

int fs_socket_set_mark(int *fds, unsigned int n, uint32_t fwmark)
{
	for (unsigned int i = 0; i < n; ++i) {
		int ret = set_int(fds[i], SOL_SOCKET, SO_MARK, (int)fwmark);

		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Sending from any address of a spread prefix (IPV6_PKTINFO with an
 * address the host has only through the guard's local route) needs
 * freebind. It is off otherwise: without it, a remembered source address
 * that was deleted fails the send (and is forgotten) instead of leaving
 * with a source nothing answers.
 */
int fs_socket_set_freebind(int *fds, unsigned int n, bool on)
{
	for (unsigned int i = 0; i < n; ++i) {
		int ret;

		if (fds[i] < 0)
			continue;
		if ((ret = set_int(fds[i], IPPROTO_IPV6, IPV6_FREEBIND, on)) ||
		    (ret = set_int(fds[i], IPPROTO_IP, IP_FREEBIND, on)))
			return ret;
	}
	return 0;
}
