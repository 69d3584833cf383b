// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Sending on the control thread: handshake messages, keepalives and the
 * packets that waited for a keypair. The worker's fast path (worker.c)
 * shares fs_send_prepare_msghdr with it.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "clock.h"
#include "cookie.h"
#include "device.h"
#include "log.h"
#include "tai64n.h"
#include "transport.h"

/*
 * The sockets are AF_INET6 and dual-stack: IPv4 endpoints are written as
 * v4-mapped addresses, and the sticky source goes in IP_PKTINFO or
 * IPV6_PKTINFO. A nonzero gso_size asks the kernel to cut the buffer into
 * datagrams of that size (UDP_SEGMENT), the last one possibly shorter.
 */
void fs_send_prepare_msghdr(struct msghdr *msg, union fs_sockaddr *name, void *cmsgbuf,
			    const struct fs_endpoint *endpoint, struct iovec *iov,
			    uint16_t gso_size)
{
	struct cmsghdr *cmsg;
	size_t used = 0;

	memset(msg, 0, sizeof(*msg));
	memset(name, 0, sizeof(*name));
	if (endpoint->addr.sa.sa_family == AF_INET) {
		name->in6.sin6_family = AF_INET6;
		name->in6.sin6_port = endpoint->addr.in.sin_port;
		name->in6.sin6_addr.s6_addr[10] = 0xff;
		name->in6.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&name->in6.sin6_addr.s6_addr[12], &endpoint->addr.in.sin_addr, 4);
	} else {
		name->in6 = endpoint->addr.in6;
	}
	msg->msg_name = name;
	msg->msg_namelen = sizeof(struct sockaddr_in6);
	msg->msg_iov = iov;
	msg->msg_iovlen = 1;
	if (!endpoint->has_src && !gso_size)
		return;

	memset(cmsgbuf, 0, FS_SEND_CMSG_SPACE);
	msg->msg_control = cmsgbuf;
	msg->msg_controllen = FS_SEND_CMSG_SPACE;
	cmsg = CMSG_FIRSTHDR(msg);
	if (endpoint->has_src && endpoint->addr.sa.sa_family == AF_INET) {
		struct in_pktinfo info = { .ipi_spec_dst = endpoint->src.v4 };

		cmsg->cmsg_level = IPPROTO_IP;
		cmsg->cmsg_type = IP_PKTINFO;
		cmsg->cmsg_len = CMSG_LEN(sizeof(info));
		memcpy(CMSG_DATA(cmsg), &info, sizeof(info));
		used += CMSG_SPACE(sizeof(info));
		cmsg = (struct cmsghdr *)((uint8_t *)cmsgbuf + used);
	} else if (endpoint->has_src) {
		struct in6_pktinfo info = { .ipi6_addr = endpoint->src.v6 };

		if (IN6_IS_ADDR_LINKLOCAL(&info.ipi6_addr))
			info.ipi6_ifindex = (unsigned int)endpoint->src_ifindex;
		cmsg->cmsg_level = IPPROTO_IPV6;
		cmsg->cmsg_type = IPV6_PKTINFO;
		cmsg->cmsg_len = CMSG_LEN(sizeof(info));
		memcpy(CMSG_DATA(cmsg), &info, sizeof(info));
		used += CMSG_SPACE(sizeof(info));
		cmsg = (struct cmsghdr *)((uint8_t *)cmsgbuf + used);
	}
	if (gso_size) {
		cmsg->cmsg_level = SOL_UDP;
		cmsg->cmsg_type = UDP_SEGMENT;
		cmsg->cmsg_len = CMSG_LEN(sizeof(gso_size));
		memcpy(CMSG_DATA(cmsg), &gso_size, sizeof(gso_size));
		used += CMSG_SPACE(sizeof(gso_size));
	}
	msg->msg_controllen = used;
}

/*
 * The socket a datagram from local port "port" leaves by: its socket of
 * spread_ports, else the listen socket. Control thread: the port sockets
 * change only under it (fs_device_apply).
 */
static int fd_for_port(const struct fs_device *dev, uint16_t port)
{
	int i = fs_port_index(dev->port_fds_low, dev->n_port_fds, port);

	if (i >= 0)
		return dev->port_fds[i];
	return dev->n_workers ? dev->udp_fds[0] : -1;
}

static int send_on(struct fs_device *dev, int fd, const struct fs_endpoint *endpoint,
		   const void *buf, size_t len)
{
	uint8_t cmsg[FS_SEND_CMSG_SPACE] __attribute__((aligned(8)));
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	union fs_sockaddr name;
	struct msghdr msg;

	if (fd < 0)
		return -ENOTCONN;
	fs_send_prepare_msghdr(&msg, &name, cmsg, endpoint, &iov, 0);
	if (sendmsg(fd, &msg, MSG_DONTWAIT) >= 0)
		return 0;
	if (fs_send_stale_source(-errno) && endpoint->has_src) {
		/* The sticky source is gone: let the kernel pick one. */
		msg.msg_control = NULL;
		msg.msg_controllen = 0;
		if (sendmsg(fd, &msg, MSG_DONTWAIT) >= 0)
			return 0;
	}
	__atomic_fetch_add(&dev->drops.send_errors, 1, __ATOMIC_RELAXED);
	{
		int err = errno;
		char text[FS_ENDPOINT_STRLEN], src[INET6_ADDRSTRLEN] = "";

		if (endpoint->has_src)
			inet_ntop(endpoint->addr.sa.sa_family, &endpoint->src, src, sizeof(src));
		fs_log_debug("sending %zu bytes to %s from %s: %s", len,
			     fs_endpoint_format(text, &endpoint->addr), src, strerror(err));
		return -err;
	}
}

int fs_send_datagram(struct fs_device *dev, const struct fs_endpoint *endpoint, const void *buf,
		     size_t len)
{
	return send_on(dev, fd_for_port(dev, 0), endpoint, buf, len);
}

/*
 * A data message (inner: its plaintext, inner_len 0 for a keepalive) goes
 * by its flow's outer pair, as on the workers' path; anything else to the
 * current endpoint from the listen socket.
 */
static int send_to_peer_spread(struct fs_peer *peer, const struct fs_noise_keypair *keypair,
			       const uint8_t *inner, size_t inner_len, const void *buf, size_t len,
			       uint64_t now)
{
	struct fs_endpoint endpoint;
	uint16_t port = 0;
	bool has, spread = false;
	int ret;

	fs_peer_get_endpoint(peer, &endpoint, &has);
	if (!has) {
		__atomic_fetch_add(&peer->device->drops.no_endpoint, 1, __ATOMIC_RELAXED);
		return -EDESTADDRREQ;
	}
	if (keypair && inner_len) {
		urcu_memb_read_lock();
		spread = fs_peer_spread(peer, keypair, inner, inner_len, now, &endpoint, &port, NULL);
		urcu_memb_read_unlock();
	}
	ret = send_on(peer->device, fd_for_port(peer->device, port), &endpoint, buf, len);
	if (fs_send_stale_source(ret) && endpoint.has_src && !spread)
		fs_peer_clear_endpoint_src(peer);
	if (!ret)
		__atomic_fetch_add(&peer->tx_bytes, len, __ATOMIC_RELAXED);
	return ret;
}

/*
 * last_sent_handshake is written here, on the control thread, and read by
 * workers deciding whether to ask for a handshake: atomic both ways.
 */
static uint64_t last_sent_handshake(struct fs_peer *peer)
{
	return __atomic_load_n(&peer->last_sent_handshake, __ATOMIC_RELAXED);
}

static void set_last_sent_handshake(struct fs_peer *peer, uint64_t now)
{
	__atomic_store_n(&peer->last_sent_handshake, now, __ATOMIC_RELAXED);
}

static int send_to_peer(struct fs_peer *peer, const void *buf, size_t len)
{
	return send_to_peer_spread(peer, NULL, NULL, 0, buf, len, 0);
}

/* Control thread, dev->lock held. At most one initiation per REKEY_TIMEOUT. */
void fs_send_handshake_initiation(struct fs_peer *peer, bool is_retry, uint64_t now)
{
	struct wg_message_handshake_initiation msg;
	uint8_t timestamp[WG_TIMESTAMP_LEN];
	struct fs_endpoint target;
	char name[64];

	if (!fs_has_expired(last_sent_handshake(peer), WG_REKEY_TIMEOUT, now))
		return;
	set_last_sent_handshake(peer, now);
	fs_peer_log_name(peer, name, sizeof(name));
	fs_log_debug("%s: sending handshake initiation", name);
	fs_tai64n_now(timestamp);
	if (!fs_noise_create_initiation(peer->noise, &msg, peer->device->index, timestamp))
		return;
	fs_cookie_add_macs(&peer->noise->cookie, &msg, sizeof(msg), now);
	fs_timers_any_authenticated_packet_traversal(peer, now);
	fs_timers_any_authenticated_packet_sent(peer);
	set_last_sent_handshake(peer, now);
	/* The endpoint table picks where (failover); data follows the answer. */
	if (fs_peer_handshake_target(peer, &target, now)) {
		/* While a spread source is unproven, the initiation probes it. */
		uint16_t port = fs_peer_probe_source(peer, &target, now);

		if (!send_on(peer->device, fd_for_port(peer->device, port), &target, &msg, sizeof(msg)))
			__atomic_fetch_add(&peer->tx_bytes, sizeof(msg), __ATOMIC_RELAXED);
	} else {
		send_to_peer(peer, &msg, sizeof(msg));
	}
	fs_timers_handshake_initiated(peer, now);
}

void fs_send_queued_handshake_initiation(struct fs_peer *peer, bool is_retry, uint64_t now)
{
	if (!is_retry)
		peer->handshake_attempts = 0;
	if (!fs_has_expired(last_sent_handshake(peer), WG_REKEY_TIMEOUT, now) ||
	    __atomic_load_n(&peer->is_dead, __ATOMIC_ACQUIRE))
		return;
	fs_send_handshake_initiation(peer, is_retry, now);
}

/* Control thread, dev->lock held, after the peer's initiation was consumed. */
void fs_send_handshake_response(struct fs_peer *peer, uint64_t now)
{
	struct wg_message_handshake_response msg;
	char name[64];

	set_last_sent_handshake(peer, now);
	if (!fs_noise_create_response(peer->noise, &msg, peer->device->index))
		return;
	fs_cookie_add_macs(&peer->noise->cookie, &msg, sizeof(msg), now);
	if (!fs_noise_begin_session(peer->noise, peer->device->index, now))
		return;
	fs_peer_session_began(peer);
	fs_peer_log_name(peer, name, sizeof(name));
	fs_log_debug("%s: sending handshake response", name);
	fs_timers_session_derived(peer, now);
	fs_timers_any_authenticated_packet_traversal(peer, now);
	fs_timers_any_authenticated_packet_sent(peer);
	set_last_sent_handshake(peer, now);
	send_to_peer(peer, &msg, sizeof(msg));
}

/* Any thread: ask the control thread for an initiation if one may go out. */
void fs_send_keep_key_fresh(struct fs_peer *peer, uint64_t now)
{
	if (fs_transport_wants_rekey(fs_noise_current_keypair(peer->noise), now) &&
	    fs_has_expired(last_sent_handshake(peer), WG_REKEY_TIMEOUT, now) &&
	    !fs_timer_pending(peer, FS_TIMER_WANT_HANDSHAKE))
		fs_timer_mod(peer, FS_TIMER_WANT_HANDSHAKE, now);
}

void fs_send_keepalive(struct fs_peer *peer, uint64_t now)
{
	bool empty;

	pthread_mutex_lock(&peer->staged_lock);
	empty = peer->staged_count == 0;
	pthread_mutex_unlock(&peer->staged_lock);
	if (empty)
		fs_peer_stage_packet(peer, NULL, 0);
	fs_send_staged(peer, now);
}

/* Control thread: sends what waited for a keypair, or asks for a handshake. */
void fs_send_staged(struct fs_peer *peer, uint64_t now)
{
	struct fs_noise_keypair *keypair = fs_noise_current_keypair(peer->noise);
	unsigned int mtu = __atomic_load_n(&peer->device->mtu, __ATOMIC_RELAXED);
	struct fs_staged_packet *staged;
	uint8_t buf[FS_PACKET_BUFFER + 64];
	bool sent_data = false, sent_any = false, empty;

	/* Nothing waits: nothing to do, and no reason for a handshake. */
	pthread_mutex_lock(&peer->staged_lock);
	empty = !peer->staged_count;
	pthread_mutex_unlock(&peer->staged_lock);
	if (empty)
		return;
	if (!fs_transport_can_send(keypair, now)) {
		fs_send_queued_handshake_initiation(peer, false, now);
		return;
	}
	for (;;) {
		ssize_t len;

		pthread_mutex_lock(&peer->staged_lock);
		if (!peer->staged_count) {
			pthread_mutex_unlock(&peer->staged_lock);
			break;
		}
		staged = peer->staged[peer->staged_head];
		peer->staged_head = (peer->staged_head + 1) % WG_MAX_STAGED_PACKETS;
		--peer->staged_count;
		pthread_mutex_unlock(&peer->staged_lock);

		len = fs_transport_encrypt(keypair, buf, sizeof(buf), staged->data, staged->len,
					   staged->len ? mtu : 0, now);
		if (len < 0) {
			/* The keypair ran out under us: keep the packet, get a new one. */
			fs_peer_stage_packet(peer, staged->data, staged->len);
			free(staged);
			fs_send_queued_handshake_initiation(peer, false, now);
			break;
		}
		sent_data |= staged->len > 0;
		fs_timers_any_authenticated_packet_traversal(peer, now);
		if (send_to_peer_spread(peer, keypair, staged->data, staged->len, buf, (size_t)len,
					now) == 0)
			sent_any = true;
		free(staged);
	}
	if (sent_any)
		fs_timers_any_authenticated_packet_sent(peer);
	if (sent_data)
		fs_timers_data_sent(peer, now);
	fs_send_keep_key_fresh(peer, now);
}
