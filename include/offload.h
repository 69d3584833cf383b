/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * TUN offloads (IFF_VNET_HDR): the kernel hands the daemon TCP segments of
 * up to 64 KiB (TSO) and packets whose checksum is still to be finished
 * (CHECKSUM_PARTIAL), each behind a struct virtio_net_hdr. Before
 * encryption every packet must be a complete IP packet of at most the
 * MTU with its checksum filled in: these functions do what a NIC would,
 * in software. Pure functions, no I/O.
 */
#ifndef FLOWSPREAD_OFFLOAD_H
#define FLOWSPREAD_OFFLOAD_H

#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { FS_VNET_HDR_LEN = sizeof(struct virtio_net_hdr) };

/* RFC 1071: the one's complement sum of data, added to sum, not folded. */
uint64_t fs_csum_add(uint64_t sum, const void *data, size_t len);
uint16_t fs_csum_fold(uint64_t sum);

/*
 * Finishes a partial checksum: the 16 bits at csum_start + csum_offset
 * hold the pseudo-header's sum; the checksum of [csum_start, len) goes
 * there. False if the offsets do not fit the packet.
 */
bool fs_offload_finish_csum(uint8_t *packet, size_t len, size_t csum_start, size_t csum_offset);

/* A TCP segmentation job: one TSO packet cut into segments of mss bytes. */
struct fs_tso {
	const uint8_t *packet;
	size_t len;
	size_t l4_offset;	/* where the TCP header starts */
	size_t hdr_len;		/* IP and TCP headers */
	size_t mss;
	unsigned int count;	/* number of segments */
	bool ipv6;
};

/*
 * Checks that packet (len bytes, after its virtio_net_hdr) is a TCP TSO
 * packet the header describes correctly. False (a malformed packet, to be
 * dropped) otherwise.
 */
bool fs_tso_init(struct fs_tso *tso, const struct virtio_net_hdr *hdr, const uint8_t *packet,
		 size_t len);

/*
 * Writes segment i (0 <= i < count) to out, which must hold
 * hdr_len + mss bytes: the headers with lengths, IPv4 identification and
 * checksum, TCP sequence number and flags adjusted, its share of the
 * payload, and a complete TCP checksum. Returns its length.
 */
size_t fs_tso_segment(const struct fs_tso *tso, unsigned int i, uint8_t *out);

#endif
