// SPDX-License-Identifier: GPL-2.0-or-later
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include "offload.h"

enum {
	TCP_FLAG_FIN = 0x01,
	TCP_FLAG_PSH = 0x08,
	TCP_FLAG_CWR = 0x80,
	TCP_FLAGS_OFFSET = 13,
	TCP_SEQ_OFFSET = 4,
	TCP_CSUM_OFFSET = 16,
	IPV4_ID_OFFSET = 4,
	IPV4_CSUM_OFFSET = 10,
};

uint64_t fs_csum_add(uint64_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t word;

	/* Four bytes at a time into 64 bits: no carry is lost before folding. */
	while (len >= 4) {
		memcpy(&word, p, 4);
		sum += word;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t half;

		memcpy(&half, p, 2);
		sum += half;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint16_t last = 0;

		memcpy(&last, p, 1);	/* the odd byte, padded with zero in memory order */
		sum += last;
	}
	return sum;
}

uint16_t fs_csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static void put_csum(uint8_t *at, uint64_t sum)
{
	uint16_t csum = (uint16_t)~fs_csum_fold(sum);

	memcpy(at, &csum, 2);
}

bool fs_offload_finish_csum(uint8_t *packet, size_t len, size_t csum_start, size_t csum_offset)
{
	if (csum_start >= len || csum_offset + 2 > len - csum_start)
		return false;
	/* The field holds the pseudo-header sum, so it is summed with the rest. */
	put_csum(packet + csum_start + csum_offset,
		 fs_csum_add(0, packet + csum_start, len - csum_start));
	return true;
}

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return ntohs(v);
}

static void put16(uint8_t *p, uint16_t v)
{
	v = htons(v);
	memcpy(p, &v, 2);
}

bool fs_tso_init(struct fs_tso *tso, const struct virtio_net_hdr *hdr, const uint8_t *packet,
		 size_t len)
{
	size_t l4 = hdr->csum_start, tcp_len;
	uint8_t version;

	if (!(hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || !hdr->gso_size || len < 20)
		return false;
	version = packet[0] >> 4;
	if ((hdr->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) == VIRTIO_NET_HDR_GSO_TCPV4) {
		if (version != 4 || l4 != (size_t)(packet[0] & 15) * 4 || l4 < 20 || packet[9] != IPPROTO_TCP)
			return false;
		tso->ipv6 = false;
	} else if ((hdr->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) == VIRTIO_NET_HDR_GSO_TCPV6) {
		/* Extension headers are not expected from the kernel's TSO: refuse them. */
		if (version != 6 || l4 != 40 || len < 40 || packet[6] != IPPROTO_TCP)
			return false;
		tso->ipv6 = true;
	} else {
		return false;
	}
	if (hdr->csum_offset != TCP_CSUM_OFFSET || l4 + 20 > len)
		return false;
	tcp_len = (size_t)(packet[l4 + 12] >> 4) * 4;
	if (tcp_len < 20 || l4 + tcp_len > len)
		return false;

	tso->packet = packet;
	tso->len = len;
	tso->l4_offset = l4;
	tso->hdr_len = l4 + tcp_len;
	tso->mss = hdr->gso_size;
	if (tso->hdr_len == len)
		return false;	/* nothing to segment */
	tso->count = (unsigned int)((len - tso->hdr_len + tso->mss - 1) / tso->mss);
	return true;
}

/* Source and destination addresses, protocol and TCP length, in network order. */
static uint64_t pseudo_header_sum(const struct fs_tso *tso, const uint8_t *ip, size_t tcp_len)
{
	uint8_t v4[4] = { 0, IPPROTO_TCP, (uint8_t)(tcp_len >> 8), (uint8_t)tcp_len };
	uint8_t v6[8] = { (uint8_t)(tcp_len >> 24), (uint8_t)(tcp_len >> 16),
			  (uint8_t)(tcp_len >> 8), (uint8_t)tcp_len, 0, 0, 0, IPPROTO_TCP };

	if (tso->ipv6)
		return fs_csum_add(fs_csum_add(0, ip + 8, 32), v6, sizeof(v6));
	return fs_csum_add(fs_csum_add(0, ip + 12, 8), v4, sizeof(v4));
}

size_t fs_tso_segment(const struct fs_tso *tso, unsigned int i, uint8_t *out)
{
	size_t offset = tso->hdr_len + (size_t)i * tso->mss;
	size_t payload = tso->len - offset < tso->mss ? tso->len - offset : tso->mss;
	size_t seg_len = tso->hdr_len + payload;
	size_t tcp_len = seg_len - tso->l4_offset;
	uint8_t *tcp = out + tso->l4_offset;
	bool last = i == tso->count - 1;
	uint32_t seq;

	memcpy(out, tso->packet, tso->hdr_len);
	memcpy(out + tso->hdr_len, tso->packet + offset, payload);

	if (tso->ipv6) {
		put16(out + 4, (uint16_t)(seg_len - 40));
	} else {
		put16(out + 2, (uint16_t)seg_len);
		put16(out + IPV4_ID_OFFSET, (uint16_t)(get16(out + IPV4_ID_OFFSET) + i));
		memset(out + IPV4_CSUM_OFFSET, 0, 2);
		put_csum(out + IPV4_CSUM_OFFSET, fs_csum_add(0, out, tso->l4_offset));
	}

	memcpy(&seq, tcp + TCP_SEQ_OFFSET, 4);
	seq = htonl(ntohl(seq) + (uint32_t)(i * tso->mss));
	memcpy(tcp + TCP_SEQ_OFFSET, &seq, 4);
	if (!last)
		tcp[TCP_FLAGS_OFFSET] &= (uint8_t)~(TCP_FLAG_FIN | TCP_FLAG_PSH);
	if (i)
		tcp[TCP_FLAGS_OFFSET] &= (uint8_t)~TCP_FLAG_CWR;
	memset(tcp + TCP_CSUM_OFFSET, 0, 2);
	put_csum(tcp + TCP_CSUM_OFFSET,
		 fs_csum_add(pseudo_header_sum(tso, out, tcp_len), tcp, tcp_len));
	return seg_len;
}
