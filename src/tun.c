// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "tun.h"

/* Why opening the clone device failed, and what would help. */
static void explain_open(int err, const char *name, char *msg, size_t msglen)
{
	const char *hint = "";

	if (err == ENOENT) {
		snprintf(msg, msglen, "cannot create TUN device %s: no %s: load the tun module (modprobe tun) or create the device node (mknod %s c 10 200)",
			 name, FS_TUN_CLONE, FS_TUN_CLONE);
		return;
	}
	if (err == ENODEV || err == ENXIO)
		hint = ": load the tun module (modprobe tun)";
	else if (err == EACCES || err == EPERM)
		hint = ": the daemon needs read and write access to it, and CAP_NET_ADMIN";
	snprintf(msg, msglen, "cannot create TUN device %s: cannot open %s: %s%s", name,
		 FS_TUN_CLONE, strerror(err), hint);
}

/* Why TUNSETIFF failed for the interface name. */
static void explain_setiff(int err, const char *name, char *msg, size_t msglen)
{
	const char *hint = "";

	if (err == EPERM || err == EACCES)
		hint = ": needs CAP_NET_ADMIN";
	else if (err == EINVAL)
		hint = ": an interface of that name exists and is not a multi-queue TUN device";
	snprintf(msg, msglen, "cannot create TUN device %s through %s: %s%s", name, FS_TUN_CLONE,
		 strerror(err), hint);
}

int fs_tun_open_queue(char name[IFNAMSIZ], bool multi_queue, bool vnet_hdr, char *msg,
		      size_t msglen)
{
	struct ifreq ifr = { 0 };
	int fd = open(FS_TUN_CLONE, O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		int err = errno;

		explain_open(err, name, msg, msglen);
		return -err;
	}
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (multi_queue ? IFF_MULTI_QUEUE : 0) |
			(vnet_hdr ? IFF_VNET_HDR : 0);
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int err = errno;

		close(fd);
		explain_setiff(err, name, msg, msglen);
		return -err;
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
