// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "tun.h"

int fs_tun_open_queue(char name[IFNAMSIZ], bool multi_queue, bool vnet_hdr)
{
	struct ifreq ifr = { 0 };
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (multi_queue ? IFF_MULTI_QUEUE : 0) |
			(vnet_hdr ? IFF_VNET_HDR : 0);
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	memcpy(name, ifr.ifr_name, IFNAMSIZ);
	name[IFNAMSIZ - 1] = '\0';
	return fd;
}

int fs_tun_enable_offloads(int fd)
{
	int size = sizeof(struct virtio_net_hdr);

	if (ioctl(fd, TUNSETVNETHDRSZ, &size) ||
	    ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6))
		return -errno;
	return 0;
}

int fs_tun_describe(int fd, char name[IFNAMSIZ], bool *multi_queue, bool *vnet_hdr)
{
	struct ifreq ifr = { 0 };
	int flags;

	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return -errno;
	memcpy(name, ifr.ifr_name, IFNAMSIZ);
	name[IFNAMSIZ - 1] = '\0';
	*multi_queue = ifr.ifr_flags & IFF_MULTI_QUEUE;
	*vnet_hdr = ifr.ifr_flags & IFF_VNET_HDR;
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static int ifreq_ioctl(const char *name, unsigned long request, struct ifreq *ifr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret = 0;

	if (fd < 0)
		return -errno;
	strncpy(ifr->ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, request, ifr) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int fs_tun_set_mtu(const char *name, unsigned int mtu)
{
	struct ifreq ifr = { .ifr_mtu = (int)mtu };

	return ifreq_ioctl(name, SIOCSIFMTU, &ifr);
}

int fs_tun_get_mtu(const char *name, unsigned int *mtu)
{
	struct ifreq ifr = { 0 };
	int ret = ifreq_ioctl(name, SIOCGIFMTU, &ifr);

	if (!ret)
		*mtu = (unsigned int)ifr.ifr_mtu;
	return ret;
}
