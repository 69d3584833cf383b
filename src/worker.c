// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A worker: one thread, one io_uring, one TUN queue, one UDP socket (and,
 * in ports mode, its share of the sockets of spread_ports).
 *
 * Receive: a multishot recvmsg over a ring of provided buffers. Data
 * messages are decrypted in place and written to the TUN queue straight
 * from the buffer, which goes back to the ring when the write completes.
 * Handshake messages are copied to the control thread's queue.
 *
 * Transmit: a multishot poll says the TUN queue is readable; we read it
 * (non-blocking) into transmit slots until it is empty or the slots run
 * out, encrypt each packet in place and queue one sendmsg per packet. All
 * the sendmsgs of a batch go to the kernel in one submit. A slot is free
 * again when its send completes (sends may complete out of order).
 *
 * Everything between two waits runs inside one RCU read-side section.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>
#include <liburing.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include "allowedips.h"
#include "clock.h"
#include "device.h"
#include "log.h"
#include "offload.h"
#include "transport.h"
#include "worker.h"

enum {
	RING_ENTRIES = 1024,
	RX_BUFS = 256,			/* power of two */
	RX_BUF_SIZE = FS_PACKET_BUFFER + 256,
	RX_CMSG_SPACE = 128,
	RX_NAME_SPACE = (sizeof(struct sockaddr_in6) + 7) & ~7UL,
	TX_SLOTS = 32,
	TX_BUF = 65000,			/* a UDP GSO send: below the 64 KiB datagram limit */
	GSO_MAX_SEGMENTS = 64,		/* UDP_MAX_SEGMENTS is 64 on older kernels */
	GSO_FAILURES_TO_DISABLE = 3,
	TUN_BATCH = 128,
	SCRATCH_SIZE = sizeof(struct virtio_net_hdr) + 65536,
	BUF_GROUP = 0,
	FILE_UDP = 0,
	FILE_TUN = 1,			/* the UDP socket again when the worker has no TUN queue */
	FILE_PORTS = 2,			/* then one per port of spread_ports (ports, both) */
};

enum op {
	OP_RECV = 1,
	OP_TUN_POLL,
	OP_TUN_WRITE,
	OP_SEND,
	OP_STOP,
	OP_CANCEL,
};

/*
 * A transmit slot is one sendmsg: the data messages of consecutive
 * packets to the same peer, back to back. When they are more than one,
 * all but the last have the same length and the kernel cuts the buffer
 * into datagrams (UDP GSO), so a burst of full-sized packets costs one
 * send instead of one each.
 */
struct tx_slot {
	uint8_t buf[TX_BUF] __attribute__((aligned(16)));
	size_t len;
	uint16_t segment;		/* length of each data message but the last */
	uint16_t segments;
	struct fs_peer *peer;		/* only while the slot is being filled */
	struct msghdr msg;
	struct iovec iov;
	union fs_sockaddr name;
	uint8_t cmsg[FS_SEND_CMSG_SPACE] __attribute__((aligned(8)));
	struct fs_endpoint endpoint;	/* where it went, for EINVAL on a stale source */
	unsigned int file;		/* the socket it leaves by: FILE_UDP or a port's */
	uint32_t next_free;
};

struct fs_worker {
	struct fs_device *dev;
	unsigned int id;
	pthread_t thread;
	int tun_fd, udp_fd, stop_fd;
	int ready;			/* 0 starting, 1 running, -errno failed */
	pthread_mutex_t ready_lock;
	pthread_cond_t ready_cond;

	struct io_uring ring;
	struct io_uring_buf_ring *buf_ring;
	size_t buf_ring_size;
	uint8_t *rx_bufs;
	struct msghdr rx_msg;
	unsigned int recycled;		/* buffers added since the last advance */

	struct tx_slot *slots;
	uint32_t free_head;
	unsigned int n_free;
	unsigned int inflight;
	uint8_t *scratch;		/* a TUN read with offloads: header and up to 64 KiB */
	struct tx_slot *open;		/* the slot being filled, if any */
	uint32_t open_id;
	unsigned int gso_failures;
	bool gso_disabled;

	bool tun_armed, tun_readable, tun_dead, stopping;
	/*
	 * Ports mode: the device's sockets of spread_ports, registered from
	 * FILE_PORTS on in port order. Any worker sends by any of them; each
	 * is received by one worker, the one with id (port - low) % workers.
	 */
	uint16_t port_low;
	unsigned int n_ports, n_workers;
	/* A multishot receive per socket it receives on (FILE_UDP, its ports). */
	unsigned int unarmed;		/* how many of them have none */
	bool armed[FILE_PORTS + FS_SPREAD_PORTS_MAX];
	struct fs_spread_memo memo;	/* valid within one read_tun() */
	struct fs_worker_stats stats;
};

/* Counters have one writer, their worker: a relaxed load and store suffice. */
static void stat_add(uint64_t *counter, uint64_t n)
{
	__atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static uint64_t user_data(enum op op, uint32_t value)
{
	return (uint64_t)op << 32 | value;
}

static enum op op_of(uint64_t data)
{
	return (enum op)(data >> 32);
}

static uint32_t value_of(uint64_t data)
{
	return (uint32_t)data;
}

static struct io_uring_sqe *get_sqe(struct fs_worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);

	if (!sqe) {
		io_uring_submit(&w->ring);
		sqe = io_uring_get_sqe(&w->ring);
	}
	return sqe;
}

/* ---- buffers -------------------------------------------------------------- */

static int setup_buf_ring(struct fs_worker *w)
{
	struct io_uring_buf_reg reg = { 0 };
	int ret;

	/* liburing 2.3 has no io_uring_setup_buf_ring: map and register it ourselves. */
	w->buf_ring_size = RX_BUFS * sizeof(struct io_uring_buf);
	w->buf_ring = mmap(NULL, w->buf_ring_size, PROT_READ | PROT_WRITE,
			   MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (w->buf_ring == MAP_FAILED) {
		w->buf_ring = NULL;
		return -errno;
	}
	w->rx_bufs = malloc((size_t)RX_BUFS * RX_BUF_SIZE);
	if (!w->rx_bufs)
		return -ENOMEM;
	io_uring_buf_ring_init(w->buf_ring);
	reg.ring_addr = (unsigned long)w->buf_ring;
	reg.ring_entries = RX_BUFS;
	reg.bgid = BUF_GROUP;
	ret = io_uring_register_buf_ring(&w->ring, &reg, 0);
	if (ret)
		return ret;
	for (unsigned int i = 0; i < RX_BUFS; ++i)
		io_uring_buf_ring_add(w->buf_ring, w->rx_bufs + (size_t)i * RX_BUF_SIZE, RX_BUF_SIZE,
				      (unsigned short)i, io_uring_buf_ring_mask(RX_BUFS), (int)i);
	io_uring_buf_ring_advance(w->buf_ring, RX_BUFS);
	return 0;
}

static void recycle(struct fs_worker *w, uint16_t bid)
{
	io_uring_buf_ring_add(w->buf_ring, w->rx_bufs + (size_t)bid * RX_BUF_SIZE, RX_BUF_SIZE, bid,
			      io_uring_buf_ring_mask(RX_BUFS), (int)w->recycled);
	++w->recycled;
}

static void publish_recycled(struct fs_worker *w)
{
	if (w->recycled) {
		io_uring_buf_ring_advance(w->buf_ring, (int)w->recycled);
		w->recycled = 0;
	}
}

static int setup_slots(struct fs_worker *w)
{
	w->slots = aligned_alloc(64, sizeof(struct tx_slot) * TX_SLOTS);
	w->scratch = malloc(SCRATCH_SIZE);
	if (!w->slots || !w->scratch)
		return -ENOMEM;
	for (uint32_t i = 0; i < TX_SLOTS; ++i)
		w->slots[i].next_free = i + 1;
	w->free_head = 0;
	w->n_free = TX_SLOTS;
	return 0;
}

static struct tx_slot *take_slot(struct fs_worker *w, uint32_t *id)
{
	if (!w->n_free)
		return NULL;
	*id = w->free_head;
	w->free_head = w->slots[*id].next_free;
	--w->n_free;
	return &w->slots[*id];
}

static void put_slot(struct fs_worker *w, uint32_t id)
{
	w->slots[id].next_free = w->free_head;
	w->free_head = id;
	++w->n_free;
}

/* ---- arming ----------------------------------------------------------------- */

/* Whether this worker receives on registered socket "file". */
static bool receives_on(const struct fs_worker *w, unsigned int file)
{
	return file == FILE_UDP || (file >= FILE_PORTS && file - FILE_PORTS < w->n_ports &&
				    (file - FILE_PORTS) % w->n_workers == w->id);
}

/* A multishot receive on a socket: FILE_UDP or FILE_PORTS + i. */
static void arm_recv(struct fs_worker *w, unsigned int file)
{
	struct io_uring_sqe *sqe = get_sqe(w);

	if (!sqe)
		return;
	io_uring_prep_recvmsg_multishot(sqe, (int)file, &w->rx_msg, 0);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
	sqe->buf_group = BUF_GROUP;
	io_uring_sqe_set_data64(sqe, user_data(OP_RECV, file));
	w->armed[file] = true;
	--w->unarmed;
	++w->inflight;
}

static void arm_receives(struct fs_worker *w)
{
	for (unsigned int file = FILE_UDP; file < FILE_PORTS + w->n_ports && w->unarmed; ++file)
		if (receives_on(w, file) && !w->armed[file])
			arm_recv(w, file);
}

/* The socket a datagram from local port "port" leaves by (0: the listen socket). */
static unsigned int file_for_port(const struct fs_worker *w, uint16_t port)
{
	int i = fs_port_index(w->port_low, w->n_ports, port);

	return i < 0 ? FILE_UDP : FILE_PORTS + (unsigned int)i;
}

static void arm_tun_poll(struct fs_worker *w)
{
	struct io_uring_sqe *sqe = get_sqe(w);

	if (!sqe)
		return;
	io_uring_prep_poll_multishot(sqe, FILE_TUN, POLLIN);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, user_data(OP_TUN_POLL, 0));
	w->tun_armed = true;
	++w->inflight;
}

static void arm_stop(struct fs_worker *w)
{
	struct io_uring_sqe *sqe = get_sqe(w);

	if (!sqe)
		return;
	io_uring_prep_poll_add(sqe, w->stop_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, user_data(OP_STOP, 0));
	++w->inflight;
}

/*
 * The TUN device was deleted (reads fail with EBADFD, the poll reports an
 * error): stop reading it and let the control thread shut down.
 */
static void tun_gone(struct fs_worker *w)
{
	w->tun_readable = false;
	w->tun_dead = true;
	if (!__atomic_exchange_n(&w->dev->tun_gone, true, __ATOMIC_ACQ_REL))
		fs_device_kick(w->dev);
}

/* ---- receive ---------------------------------------------------------------- */

/* The peer's address as we store it: IPv4 as AF_INET, not v4-mapped. */
static void endpoint_from(struct fs_endpoint *ep, const struct sockaddr_in6 *name,
			  struct msghdr *msgh, struct io_uring_recvmsg_out *out)
{
	struct cmsghdr *cmsg;

	memset(ep, 0, sizeof(*ep));
	if (IN6_IS_ADDR_V4MAPPED(&name->sin6_addr)) {
		ep->addr.in.sin_family = AF_INET;
		ep->addr.in.sin_port = name->sin6_port;
		memcpy(&ep->addr.in.sin_addr, &name->sin6_addr.s6_addr[12], 4);
	} else {
		ep->addr.in6 = *name;
	}
	for (cmsg = io_uring_recvmsg_cmsg_firsthdr(out, msgh); cmsg;
	     cmsg = io_uring_recvmsg_cmsg_nexthdr(out, msgh, cmsg)) {
		if (cmsg->cmsg_level == IPPROTO_IP && cmsg->cmsg_type == IP_PKTINFO &&
		    cmsg->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
			struct in_pktinfo info;

			memcpy(&info, CMSG_DATA(cmsg), sizeof(info));
			ep->src.v4 = info.ipi_addr;
			ep->src_ifindex = info.ipi_ifindex;
			ep->has_src = true;
		} else if (cmsg->cmsg_level == IPPROTO_IPV6 && cmsg->cmsg_type == IPV6_PKTINFO &&
			   cmsg->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
			struct in6_pktinfo info;

			memcpy(&info, CMSG_DATA(cmsg), sizeof(info));
			if (IN6_IS_ADDR_V4MAPPED(&info.ipi6_addr)) {
				memcpy(&ep->src.v4, &info.ipi6_addr.s6_addr[12], 4);
			} else {
				ep->src.v6 = info.ipi6_addr;
			}
			ep->src_ifindex = (int)info.ipi6_ifindex;
			ep->has_src = true;
		}
	}
}

static void queue_handshake(struct fs_worker *w, const uint8_t *payload, size_t len,
			    const struct fs_endpoint *from)
{
	struct fs_handshake_item item;

	item.src = from->addr;
	item.local = *from;
	item.len = (uint16_t)len;
	memcpy(item.msg, payload, len);
	fs_device_queue_handshake(w->dev, &item);
}

static bool write_tun(struct fs_worker *w, uint16_t bid, const uint8_t *packet, size_t len)
{
	struct io_uring_sqe *sqe = get_sqe(w);
	int fd = w->tun_fd >= 0 ? FILE_TUN : w->dev->tun_fds[0];

	if (!sqe)
		return false;
	io_uring_prep_write(sqe, fd, packet, (unsigned int)len, 0);
	if (w->tun_fd >= 0)
		sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, user_data(OP_TUN_WRITE, bid));
	++w->inflight;
	return true;
}

static void handle_datagram(struct fs_worker *w, unsigned int file, uint16_t bid, int len,
			    uint64_t now)
{
	uint8_t *buf = w->rx_bufs + (size_t)bid * RX_BUF_SIZE;
	struct io_uring_recvmsg_out *out;
	struct fs_endpoint from;
	uint8_t *payload, *inner;
	size_t plen;
	ssize_t n;

	out = io_uring_recvmsg_validate(buf, len, &w->rx_msg);
	if (!out || out->namelen < sizeof(struct sockaddr_in6)) {
		__atomic_fetch_add(&w->dev->drops.malformed, 1, __ATOMIC_RELAXED);
		goto recycle;
	}
	if (out->flags & MSG_TRUNC) {
		__atomic_fetch_add(&w->dev->drops.truncated, 1, __ATOMIC_RELAXED);
		goto recycle;
	}
	payload = io_uring_recvmsg_payload(out, &w->rx_msg);
	plen = io_uring_recvmsg_payload_length(out, len, &w->rx_msg);
	endpoint_from(&from, io_uring_recvmsg_name(out), &w->rx_msg, out);
	/*
	 * Arriving on one of our spread addresses says nothing about where to
	 * answer from: each flow picks its own. Forget it, so the peer's
	 * endpoint does not change with every flow.
	 */
	if (fs_device_is_spread_address(w->dev, &from)) {
		from.has_src = false;
		from.via |= FS_VIA_SPREAD_ADDRESS;
	}
	if (file >= FILE_PORTS)
		from.via |= FS_VIA_SPREAD_PORT;
	stat_add(&w->stats.rx_datagrams, 1);

	switch (fs_message_classify(payload, plen)) {
	case WG_MESSAGE_DATA:
		n = fs_receive_data(w->dev, payload, plen, &from, &inner, now);
		if (n > 0 && w->dev->vnet_hdr) {
			/*
			 * The header goes where the data message's header was. The
			 * AEAD authenticated the packet end to end, so, as the kernel
			 * driver does, tell the stack its checksums need no check.
			 */
			struct virtio_net_hdr vh = { .flags = VIRTIO_NET_HDR_F_DATA_VALID };

			inner -= sizeof(vh);
			memcpy(inner, &vh, sizeof(vh));
			n += (ssize_t)sizeof(vh);
		}
		if (n > 0 && write_tun(w, bid, inner, (size_t)n))
			return;		/* the buffer returns when the write completes */
		break;
	case WG_MESSAGE_HANDSHAKE_INITIATION:
	case WG_MESSAGE_HANDSHAKE_RESPONSE:
	case WG_MESSAGE_HANDSHAKE_COOKIE:
		queue_handshake(w, payload, plen, &from);
		break;
	default:
		__atomic_fetch_add(&w->dev->drops.malformed, 1, __ATOMIC_RELAXED);
		break;
	}
recycle:
	recycle(w, bid);
}

/* ---- transmit --------------------------------------------------------------- */

/* The inner destination, or NULL if the packet is not IPv4 or IPv6. */
static const void *inner_destination(const uint8_t *packet, size_t len, int *family)
{
	if (len >= sizeof(struct iphdr) && packet[0] >> 4 == 4) {
		*family = AF_INET;
		return &((const struct iphdr *)packet)->daddr;
	}
	if (len >= sizeof(struct ip6_hdr) && packet[0] >> 4 == 6) {
		*family = AF_INET6;
		return &((const struct ip6_hdr *)packet)->ip6_dst;
	}
	return NULL;
}

static void submit_slot(struct fs_worker *w, uint32_t id)
{
	struct tx_slot *slot = &w->slots[id];
	struct io_uring_sqe *sqe = get_sqe(w);

	if (!sqe) {
		put_slot(w, id);
		return;
	}
	slot->iov.iov_base = slot->buf;
	slot->iov.iov_len = slot->len;
	fs_send_prepare_msghdr(&slot->msg, &slot->name, slot->cmsg, &slot->endpoint, &slot->iov,
			       slot->segments > 1 ? slot->segment : 0);
	io_uring_prep_sendmsg(sqe, (int)slot->file, &slot->msg, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, user_data(OP_SEND, id));
	++w->inflight;
}

/* Sends what the open slot holds (or gives it back if it holds nothing). */
static void flush_open(struct fs_worker *w)
{
	struct tx_slot *slot = w->open;

	if (!slot)
		return;
	w->open = NULL;
	slot->peer = NULL;
	if (!slot->segments)
		put_slot(w, w->open_id);
	else
		submit_slot(w, w->open_id);
}

static struct tx_slot *open_slot(struct fs_worker *w)
{
	if (!w->open) {
		w->open = take_slot(w, &w->open_id);
		if (w->open) {
			w->open->len = 0;
			w->open->segments = 0;
			w->open->peer = NULL;
		}
	}
	return w->open;
}

/*
 * Whether a data message of msglen bytes to peer may join the open slot:
 * same peer, socket and outer addresses, room left, and every message but
 * the last of equal length.
 */
static bool fits(const struct fs_worker *w, const struct tx_slot *slot, struct fs_peer *peer,
		 const struct fs_endpoint *endpoint, unsigned int file, size_t msglen)
{
	if (!slot->segments)
		return true;
	return !w->gso_disabled && slot->peer == peer && slot->segments < GSO_MAX_SEGMENTS &&
	       slot->len + msglen <= TX_BUF && msglen <= slot->segment && slot->file == file &&
	       fs_endpoint_same(&slot->endpoint, endpoint);
}

/* No keypair yet: keep the packet and ask the control thread for a handshake. */
static void stage(struct fs_peer *peer, const uint8_t *packet, size_t len, uint64_t now)
{
	fs_peer_stage_packet(peer, packet, len);
	if (fs_has_expired(__atomic_load_n(&peer->last_sent_handshake, __ATOMIC_RELAXED),
			   WG_REKEY_TIMEOUT, now) &&
	    !fs_timer_pending(peer, FS_TIMER_WANT_HANDSHAKE))
		fs_timer_mod(peer, FS_TIMER_WANT_HANDSHAKE, now);
}

/*
 * The packet of len bytes was read to slot->buf + slot->len + 16. Encrypts
 * it in place and appends it to the open slot, or moves it to a new slot
 * when it cannot join. Returns false when no slot is left to move it to.
 */
static bool transmit(struct fs_worker *w, size_t len, uint64_t now)
{
	struct tx_slot *slot = w->open;
	uint8_t *packet = slot->buf + slot->len + sizeof(struct wg_message_data);
	struct fs_device *dev = w->dev;
	unsigned int mtu = __atomic_load_n(&dev->mtu, __ATOMIC_RELAXED);
	struct fs_noise_keypair *keypair;
	struct fs_endpoint endpoint;
	struct fs_peer *peer;
	const void *dst;
	bool has_endpoint;
	uint16_t local_port;
	unsigned int file;
	size_t msglen;
	ssize_t ret;
	int family;

	dst = inner_destination(packet, len, &family);
	if (!dst) {
		__atomic_fetch_add(&dev->drops.malformed, 1, __ATOMIC_RELAXED);
		return true;
	}
	peer = fs_allowedips_lookup(dev->allowedips, family, dst);
	if (!peer) {
		__atomic_fetch_add(&dev->drops.no_route, 1, __ATOMIC_RELAXED);
		return true;
	}
	keypair = fs_noise_current_keypair(peer->noise);
	if (!fs_transport_can_send(keypair, now)) {
		stage(peer, packet, len, now);
		return true;
	}

	fs_peer_get_endpoint(peer, &endpoint, &has_endpoint);
	if (!has_endpoint) {
		__atomic_fetch_add(&dev->drops.no_endpoint, 1, __ATOMIC_RELAXED);
		return true;
	}
	/* Each flow takes its own outer pair, if we spread. */
	fs_peer_spread(peer, keypair, packet, len, now, &endpoint, &local_port, &w->memo);
	file = file_for_port(w, local_port);

	msglen = fs_transport_message_len(len, mtu);
	if (!fits(w, slot, peer, &endpoint, file, msglen)) {
		uint8_t *moved;

		flush_open(w);
		slot = open_slot(w);
		if (!slot) {
			stage(peer, packet, len, now);
			return false;
		}
		moved = slot->buf + sizeof(struct wg_message_data);
		memcpy(moved, packet, len);	/* the old slot's send does not cover it */
		packet = moved;
	}
	if (!slot->segments) {
		slot->endpoint = endpoint;
		slot->file = file;
		slot->peer = peer;
		slot->segment = (uint16_t)msglen;
	}
	ret = fs_transport_encrypt(keypair, slot->buf + slot->len, TX_BUF - slot->len, packet, len,
				   mtu, now);
	if (ret < 0) {
		stage(peer, packet, len, now);
		return true;
	}
	slot->len += (size_t)ret;
	++slot->segments;
	/* A shorter message must be the last of a GSO send. */
	if ((size_t)ret < slot->segment)
		flush_open(w);

	fs_timers_any_authenticated_packet_traversal(peer, now);
	fs_timers_any_authenticated_packet_sent(peer);
	fs_timers_data_sent(peer, now);
	__atomic_fetch_add(&peer->tx_bytes, (uint64_t)ret, __ATOMIC_RELAXED);
	fs_send_keep_key_fresh(peer, now);
	return true;
}

/* Room the open slot needs for one more packet of up to len bytes. */
static bool room_for(const struct tx_slot *slot, size_t len)
{
	return TX_BUF - slot->len >= len + WG_MESSAGE_PADDING_MULTIPLE +
					     2 * sizeof(struct wg_message_data);
}

/* The next slot with room for a packet of len bytes, or NULL if none is free. */
static struct tx_slot *slot_for(struct fs_worker *w, size_t len)
{
	struct tx_slot *slot = open_slot(w);

	if (slot && !room_for(slot, len)) {
		flush_open(w);
		slot = open_slot(w);
	}
	return slot;
}

static uint8_t *packet_place(struct tx_slot *slot)
{
	return slot->buf + slot->len + sizeof(struct wg_message_data);
}

/*
 * One read with offloads: a virtio_net_hdr, then a packet whose checksum
 * may be unfinished, or a TCP segment of up to 64 KiB to cut into packets.
 * Returns false when the slots ran out.
 */
static bool transmit_offloaded(struct fs_worker *w, size_t n, uint64_t now)
{
	struct virtio_net_hdr vh;
	uint8_t *packet = w->scratch + sizeof(vh);
	struct tx_slot *slot;
	struct fs_tso tso;

	if (n <= sizeof(vh))
		return true;
	memcpy(&vh, w->scratch, sizeof(vh));
	n -= sizeof(vh);
	if (vh.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		if ((vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
		    !fs_offload_finish_csum(packet, n, vh.csum_start, vh.csum_offset))
			goto malformed;
		if (n > FS_PACKET_BUFFER) {
			__atomic_fetch_add(&w->dev->drops.truncated, 1, __ATOMIC_RELAXED);
			return true;
		}
		slot = slot_for(w, n);
		if (!slot)
			return false;
		memcpy(packet_place(slot), packet, n);
		return transmit(w, n, now);
	}
	if (!fs_tso_init(&tso, &vh, packet, n) || tso.hdr_len + tso.mss > FS_PACKET_BUFFER)
		goto malformed;
	for (unsigned int i = 0; i < tso.count; ++i) {
		size_t len;

		slot = slot_for(w, tso.hdr_len + tso.mss);
		if (!slot)
			return false;	/* the rest of the segment is lost; TCP resends it */
		len = fs_tso_segment(&tso, i, packet_place(slot));
		if (!transmit(w, len, now))
			return false;
	}
	return true;
malformed:
	__atomic_fetch_add(&w->dev->drops.malformed, 1, __ATOMIC_RELAXED);
	return true;
}

static void read_tun(struct fs_worker *w, uint64_t now)
{
	bool vnet_hdr = w->dev->vnet_hdr;

	w->memo.valid = false;		/* a new read-side section: its pointers may be stale */
	for (unsigned int i = 0; i < TUN_BATCH; ++i) {
		struct tx_slot *slot = slot_for(w, FS_PACKET_BUFFER);
		ssize_t n;
		bool more;

		if (!slot)
			break;		/* still readable: resume when sends complete */
		if (vnet_hdr)
			n = read(w->tun_fd, w->scratch, SCRATCH_SIZE);
		else
			n = read(w->tun_fd, packet_place(slot), FS_PACKET_BUFFER);
		if (n <= 0) {
			if (n < 0 && (errno == EBADFD || errno == EIO || errno == ENODEV))
				tun_gone(w);
			else if (n < 0 && errno != EAGAIN && errno != EINTR)
				fs_log_error("worker %u: reading the TUN queue: %s", w->id, strerror(errno));
			if (n == 0 || errno != EINTR)
				w->tun_readable = false;
			break;
		}
		stat_add(&w->stats.tun_reads, 1);
		more = vnet_hdr ? transmit_offloaded(w, (size_t)n, now) : transmit(w, (size_t)n, now);
		if (!more)
			break;
	}
	flush_open(w);
}

/* ---- the loop --------------------------------------------------------------- */

/*
 * Whether a failed send of several datagrams (UDP_SEGMENT) says the kernel
 * cannot segment it, so that one datagram a send would do better: EIO (no
 * checksum offload on the way, or IPsec), EINVAL (too many segments, no
 * UDP checksums; a segment above the path MTU on older kernels), EMSGSIZE
 * (a segment above the path MTU). Anything else (EPERM from a firewall,
 * ENETUNREACH, EHOSTUNREACH, ENOBUFS) would fail datagram by datagram
 * just the same.
 */
static bool gso_unsupported(int err)
{
	return err == -EIO || err == -EINVAL || err == -EMSGSIZE;
}

static void gso_failed(struct fs_worker *w, int err)
{
	if (w->gso_disabled || !gso_unsupported(err) ||
	    ++w->gso_failures < GSO_FAILURES_TO_DISABLE)
		return;
	w->gso_disabled = true;
	stat_add(&w->stats.gso_off, 1);
	fs_log_error("worker %u: UDP segmentation offload failed %d times in a row (%s); sending datagrams one by one",
		     w->id, GSO_FAILURES_TO_DISABLE, strerror(-err));
}

/* A sendmsg completed with res (bytes sent or -errno). */
static void send_done(struct fs_worker *w, const struct tx_slot *slot, int res)
{
	bool gso = slot->segments > 1;

	if (res >= 0) {
		stat_add(&w->stats.tx_datagrams, slot->segments);
		if (gso) {
			stat_add(&w->stats.tx_gso_sends, 1);
			w->gso_failures = 0;
		}
		return;
	}
	__atomic_fetch_add(&w->dev->drops.send_errors, slot->segments, __ATOMIC_RELAXED);
	stat_add(&w->stats.tx_errors, 1);
	if (gso)
		stat_add(&w->stats.tx_gso_errors, 1);
	if (fs_send_stale_source(res) && slot->endpoint.has_src)
		fs_device_report_stale_source(w->dev, &slot->endpoint);
	else if (gso)
		gso_failed(w, res);
}

static void handle_cqe(struct fs_worker *w, struct io_uring_cqe *cqe, uint64_t now)
{
	uint64_t data = io_uring_cqe_get_data64(cqe);
	bool more = cqe->flags & IORING_CQE_F_MORE;

	switch (op_of(data)) {
	case OP_RECV:
		if (!more) {
			w->armed[value_of(data)] = false;
			++w->unarmed;
			--w->inflight;
		}
		if (cqe->res == -ENOBUFS)
			stat_add(&w->stats.rx_nobufs, 1);
		else if (cqe->res < 0 && cqe->res != -ECANCELED)
			fs_log_error("worker %u: receive: %s", w->id, strerror(-cqe->res));
		if (cqe->flags & IORING_CQE_F_BUFFER) {
			uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);

			if (cqe->res >= 0)
				handle_datagram(w, value_of(data), bid, cqe->res, now);
			else
				recycle(w, bid);
		}
		break;
	case OP_TUN_POLL:
		if (!more) {
			w->tun_armed = false;
			--w->inflight;
		}
		if (cqe->res > 0 && (cqe->res & (POLLERR | POLLHUP | POLLNVAL)))
			tun_gone(w);
		else if (cqe->res > 0)
			w->tun_readable = true;
		break;
	case OP_TUN_WRITE:
		--w->inflight;
		if (cqe->res < 0)
			__atomic_fetch_add(&w->dev->drops.send_errors, 1, __ATOMIC_RELAXED);
		else
			stat_add(&w->stats.tun_writes, 1);
		recycle(w, (uint16_t)value_of(data));
		break;
	case OP_SEND:
		--w->inflight;
		send_done(w, &w->slots[value_of(data)], cqe->res);
		put_slot(w, value_of(data));
		break;
	case OP_STOP:
		--w->inflight;
		w->stopping = true;
		break;
	case OP_CANCEL:
		--w->inflight;
		break;
	}
}

static void process_completions(struct fs_worker *w)
{
	struct io_uring_cqe *cqe;
	unsigned int head, seen = 0;
	uint64_t now = fs_clock_now();

	io_uring_for_each_cqe(&w->ring, head, cqe) {
		handle_cqe(w, cqe, now);
		++seen;
	}
	io_uring_cq_advance(&w->ring, seen);
	if (w->tun_readable && w->tun_fd >= 0 && !w->stopping)
		read_tun(w, now);
	publish_recycled(w);
	if (!w->stopping) {
		if (w->unarmed)
			arm_receives(w);
		if (!w->tun_armed && w->tun_fd >= 0 && !w->tun_dead)
			arm_tun_poll(w);
	}
}

static void drain(struct fs_worker *w)
{
	struct io_uring_sqe *sqe = get_sqe(w);
	struct __kernel_timespec timeout = { .tv_sec = 1 };
	struct io_uring_cqe *cqe;

	if (sqe) {
		io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
		io_uring_sqe_set_data64(sqe, user_data(OP_CANCEL, 0));
		++w->inflight;
	}
	io_uring_submit(&w->ring);
	while (w->inflight) {
		if (io_uring_wait_cqe_timeout(&w->ring, &cqe, &timeout))
			break;
		handle_cqe(w, cqe, fs_clock_now());
		io_uring_cqe_seen(&w->ring, cqe);
	}
}

static int setup(struct fs_worker *w)
{
	struct io_uring_params params = { 0 };
	struct fs_device *dev = w->dev;
	int *files;
	int ret;

	params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN;
	ret = io_uring_queue_init_params(RING_ENTRIES, &w->ring, &params);
	if (ret == -EINVAL) {
		memset(&params, 0, sizeof(params));
		ret = io_uring_queue_init_params(RING_ENTRIES, &w->ring, &params);
	}
	if (ret)
		return ret;
	/* The device's port sockets do not change while workers run. */
	w->n_workers = dev->n_workers;
	w->n_ports = dev->n_port_fds;
	w->port_low = dev->port_fds_low;
	files = calloc(FILE_PORTS + w->n_ports, sizeof(*files));
	if (!files)
		return -ENOMEM;
	files[FILE_UDP] = w->udp_fd;
	files[FILE_TUN] = w->tun_fd >= 0 ? w->tun_fd : w->udp_fd;
	for (unsigned int i = 0; i < w->n_ports; ++i)
		files[FILE_PORTS + i] = dev->port_fds[i];
	for (unsigned int file = FILE_UDP; file < FILE_PORTS + w->n_ports; ++file)
		w->unarmed += receives_on(w, file);
	ret = io_uring_register_files(&w->ring, files, FILE_PORTS + w->n_ports);
	free(files);
	if (ret)
		return ret;
	ret = setup_buf_ring(w);
	if (ret)
		return ret;
	ret = setup_slots(w);
	if (ret)
		return ret;
	/* Rounded up so that the control messages after the name stay aligned. */
	w->rx_msg.msg_namelen = RX_NAME_SPACE;
	w->rx_msg.msg_controllen = RX_CMSG_SPACE;
	arm_receives(w);
	if (w->tun_fd >= 0)
		arm_tun_poll(w);
	arm_stop(w);
	return 0;
}

static void set_ready(struct fs_worker *w, int ready)
{
	pthread_mutex_lock(&w->ready_lock);
	w->ready = ready;
	pthread_cond_signal(&w->ready_cond);
	pthread_mutex_unlock(&w->ready_lock);
}

static void *worker_main(void *arg)
{
	struct fs_worker *w = arg;
	char name[16];
	int ret;

	snprintf(name, sizeof(name), "fs-worker%u", w->id);
	pthread_setname_np(pthread_self(), name);	/* for top -H, perf and /proc */
	urcu_memb_register_thread();
	ret = setup(w);
	set_ready(w, ret ? ret : 1);
	if (ret)
		goto out;
	while (!w->stopping) {
		bool busy = w->tun_readable && w->n_free && w->tun_fd >= 0;

		ret = busy ? io_uring_submit(&w->ring) : io_uring_submit_and_wait(&w->ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
			fs_log_error("worker %u: io_uring: %s", w->id, strerror(-ret));
			break;
		}
		stat_add(&w->stats.submit_batches, 1);
		urcu_memb_read_lock();
		process_completions(w);
		urcu_memb_read_unlock();
	}
	urcu_memb_read_lock();
	drain(w);
	urcu_memb_read_unlock();
out:
	urcu_memb_unregister_thread();
	return NULL;
}

static void worker_free(struct fs_worker *w)
{
	if (w->ring.ring_fd > 0)
		io_uring_queue_exit(&w->ring);
	if (w->buf_ring)
		munmap(w->buf_ring, w->buf_ring_size);
	free(w->rx_bufs);
	free(w->slots);
	free(w->scratch);
	if (w->stop_fd >= 0)
		close(w->stop_fd);
	pthread_mutex_destroy(&w->ready_lock);
	pthread_cond_destroy(&w->ready_cond);
	free(w);
}

struct fs_worker *fs_worker_start(struct fs_device *dev, unsigned int id, int tun_fd, int udp_fd)
{
	struct fs_worker *w = calloc(1, sizeof(*w));
	int ready;

	if (!w)
		return NULL;
	w->dev = dev;
	w->id = id;
	w->tun_fd = tun_fd;
	w->udp_fd = udp_fd;
	w->ring.ring_fd = -1;
	pthread_mutex_init(&w->ready_lock, NULL);
	pthread_cond_init(&w->ready_cond, NULL);
	w->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->stop_fd < 0 || pthread_create(&w->thread, NULL, worker_main, w)) {
		worker_free(w);
		return NULL;
	}
	pthread_mutex_lock(&w->ready_lock);
	while (!w->ready)
		pthread_cond_wait(&w->ready_cond, &w->ready_lock);
	ready = w->ready;
	pthread_mutex_unlock(&w->ready_lock);
	if (ready < 0) {
		pthread_join(w->thread, NULL);
		fs_log_error("worker %u: setting up io_uring: %s", id, strerror(-ready));
		worker_free(w);
		errno = -ready;
		return NULL;
	}
	return w;
}

/* At LOG_LEVEL=verbose, what the worker did, when it stops (at exit, or to restart). */
static void log_stats(const struct fs_worker *w)
{
	struct fs_worker_stats s;

	if (fs_log_level() < FS_LOG_VERBOSE)
		return;
	fs_worker_stats(w, &s);
	fs_log_verbose("worker %u: %llu datagrams received, %llu sent (%llu GSO sends), "
		       "%llu sends failed (%llu GSO), %llu TUN reads, %llu TUN writes, "
		       "%llu receive buffer shortages, %llu submits; UDP GSO %s",
		       w->id, (unsigned long long)s.rx_datagrams, (unsigned long long)s.tx_datagrams,
		       (unsigned long long)s.tx_gso_sends, (unsigned long long)s.tx_errors,
		       (unsigned long long)s.tx_gso_errors, (unsigned long long)s.tun_reads,
		       (unsigned long long)s.tun_writes, (unsigned long long)s.rx_nobufs,
		       (unsigned long long)s.submit_batches, s.gso_off ? "off" : "on");
}

void fs_worker_stop(struct fs_worker *w)
{
	uint64_t one = 1;

	if (!w)
		return;
	if (write(w->stop_fd, &one, sizeof(one)) < 0)
		fs_log_error("worker %u: cannot signal stop: %s", w->id, strerror(errno));
	pthread_join(w->thread, NULL);
	log_stats(w);
	worker_free(w);
}

#define LOAD(field) out->field = __atomic_load_n(&w->stats.field, __ATOMIC_RELAXED)
void fs_worker_stats(const struct fs_worker *w, struct fs_worker_stats *out)
{
	LOAD(rx_datagrams);
	LOAD(tx_datagrams);
	LOAD(tx_gso_sends);
	LOAD(tx_errors);
	LOAD(tx_gso_errors);
	LOAD(tun_reads);
	LOAD(tun_writes);
	LOAD(rx_nobufs);
	LOAD(submit_batches);
	LOAD(gso_off);
}
#undef LOAD
