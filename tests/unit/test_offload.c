// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * TUN offloads: checksums against RFC 1071 and a naive big-endian
 * reference, and TCP segmentation checked segment by segment: lengths,
 * identifiers, sequence numbers, flags, payload and both checksums.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <criterion/criterion.h>
#include "leakcheck.h"
#include "offload.h"

FS_LEAK_CHECKED_SUITE(offload);

/* The reference: 16-bit big-endian words, the odd byte as a high byte. */
static uint16_t naive_sum(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A TCP checksum is right when the sum over pseudo header and segment is 0xffff. */
static bool tcp_csum_ok(const uint8_t *ip, size_t len, bool ipv6)
{
	size_t l4 = ipv6 ? 40 : (size_t)(ip[0] & 15) * 4;
	size_t tcp_len = len - l4;
	uint8_t pseudo[40];
	size_t n;

	if (ipv6) {
		memcpy(pseudo, ip + 8, 32);
		pseudo[32] = (uint8_t)(tcp_len >> 24);
		pseudo[33] = (uint8_t)(tcp_len >> 16);
		pseudo[34] = (uint8_t)(tcp_len >> 8);
		pseudo[35] = (uint8_t)tcp_len;
		pseudo[36] = pseudo[37] = pseudo[38] = 0;
		pseudo[39] = IPPROTO_TCP;
		n = 40;
	} else {
		memcpy(pseudo, ip + 12, 8);
		pseudo[8] = 0;
		pseudo[9] = IPPROTO_TCP;
		pseudo[10] = (uint8_t)(tcp_len >> 8);
		pseudo[11] = (uint8_t)tcp_len;
		n = 12;
	}
	return naive_sum(ip + l4, tcp_len, naive_sum(pseudo, n, 0)) == 0xffff;
}

Test(offload, rfc1071_example)
{
	/* RFC 1071 section 3: these bytes sum to 0xddf2 in network order. */
	static const uint8_t data[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	uint16_t sum = fs_csum_fold(fs_csum_add(0, data, sizeof(data)));
	uint8_t bytes[2];

	memcpy(bytes, &sum, 2);
	cr_assert_eq(bytes[0], 0xdd);
	cr_assert_eq(bytes[1], 0xf2);
}

Test(offload, sum_matches_naive_reference_for_every_length)
{
	uint8_t data[301];

	for (size_t i = 0; i < sizeof(data); ++i)
		data[i] = (uint8_t)(i * 37 + 11);
	for (size_t len = 0; len <= sizeof(data); ++len) {
		uint16_t sum = fs_csum_fold(fs_csum_add(0, data, len));
		uint8_t bytes[2];

		memcpy(bytes, &sum, 2);
		cr_assert_eq(be16(bytes), naive_sum(data, len, 0), "length %zu", len);
	}
}

/* IPv4 UDP packet with the pseudo-header sum in its checksum field, as TUN gives it. */
Test(offload, finish_partial_udp_checksum)
{
	uint8_t p[20 + 8 + 37] = { 0x45, 0, 0, sizeof(p), 0, 0, 0x40, 0, 64, IPPROTO_UDP, 0, 0,
				   192, 0, 2, 1, 198, 51, 100, 2 };
	uint8_t pseudo[12] = { 192, 0, 2, 1, 198, 51, 100, 2, 0, IPPROTO_UDP, 0, 8 + 37 };
	uint16_t partial;
	uint8_t *udp = p + 20;

	udp[0] = 0x30; udp[1] = 0x39; udp[2] = 0x00; udp[3] = 0x35;
	udp[4] = 0; udp[5] = 8 + 37;
	for (int i = 0; i < 37; ++i)
		udp[8 + i] = (uint8_t)(i * 7);
	partial = naive_sum(pseudo, sizeof(pseudo), 0);
	udp[6] = (uint8_t)(partial >> 8);
	udp[7] = (uint8_t)partial;

	cr_assert(fs_offload_finish_csum(p, sizeof(p), 20, 6));
	cr_assert_eq(naive_sum(udp, 8 + 37, naive_sum(pseudo, sizeof(pseudo), 0)), 0xffff);
	cr_assert_neq(be16(udp + 6), partial);
}

Test(offload, finish_checksum_refuses_offsets_outside_the_packet)
{
	uint8_t p[40] = { 0x45 };

	cr_assert_not(fs_offload_finish_csum(p, sizeof(p), 40, 0));
	cr_assert_not(fs_offload_finish_csum(p, sizeof(p), 20, 19));
	cr_assert(fs_offload_finish_csum(p, sizeof(p), 20, 18));
}

/* A TSO packet: headers (TCP with 12 bytes of options) and payload bytes i*13. */
static size_t build_tso(uint8_t *p, bool ipv6, size_t payload, uint8_t flags)
{
	size_t l4 = ipv6 ? 40 : 20, tcp_len = 32, len = l4 + tcp_len + payload;
	uint8_t *tcp = p + l4;

	memset(p, 0, l4 + tcp_len);
	if (ipv6) {
		static const uint8_t src[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
		static const uint8_t dst[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };

		p[0] = 0x60;
		p[4] = (uint8_t)((len - 40) >> 8);	/* as the kernel leaves it: any value */
		p[6] = IPPROTO_TCP;
		p[7] = 64;
		memcpy(p + 8, src, 16);
		memcpy(p + 24, dst, 16);
	} else {
		static const uint8_t addrs[8] = { 192, 0, 2, 1, 198, 51, 100, 2 };

		p[0] = 0x45;
		p[4] = 0x12;	/* identification 0x1234 */
		p[5] = 0x34;
		p[6] = 0x40;
		p[8] = 64;
		p[9] = IPPROTO_TCP;
		memcpy(p + 12, addrs, 8);
	}
	tcp[0] = 0xc0; tcp[1] = 0x01;	/* ports */
	tcp[2] = 0x14; tcp[3] = 0x51;
	tcp[4] = 0xff; tcp[5] = 0xff; tcp[6] = 0xfc; tcp[7] = 0x00;	/* seq wraps mid-way */
	tcp[12] = (uint8_t)(tcp_len / 4) << 4;
	tcp[13] = flags;
	tcp[14] = 0xfa;	/* window */
	for (size_t i = 0; i < 12; ++i)
		tcp[20 + i] = (uint8_t)(0x80 + i);	/* options, copied to every segment */
	for (size_t i = 0; i < payload; ++i)
		p[l4 + tcp_len + i] = (uint8_t)(i * 13);
	return len;
}

static void check_segments(bool ipv6, size_t payload, uint16_t mss)
{
	static uint8_t packet[70000], seg[70000];
	uint8_t flags = 0x80 | 0x10 | 0x08 | 0x01;	/* CWR ACK PSH FIN */
	size_t len = build_tso(packet, ipv6, payload, flags);
	size_t l4 = ipv6 ? 40 : 20, hdr = l4 + 32;
	struct virtio_net_hdr vh = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = ipv6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4,
		.hdr_len = (uint16_t)hdr, .gso_size = mss,
		.csum_start = (uint16_t)l4, .csum_offset = 16,
	};
	struct fs_tso tso;
	size_t covered = 0;

	cr_assert(fs_tso_init(&tso, &vh, packet, len));
	cr_assert_eq(tso.count, (payload + mss - 1) / mss);
	cr_assert_eq(tso.hdr_len, hdr);
	for (unsigned int i = 0; i < tso.count; ++i) {
		size_t n = fs_tso_segment(&tso, i, seg);
		size_t want = payload - covered < mss ? payload - covered : mss;
		bool last = i == tso.count - 1;
		uint8_t *tcp = seg + l4;

		cr_assert_eq(n, hdr + want, "segment %u", i);
		if (ipv6) {
			cr_assert_eq(be16(seg + 4), n - 40);
		} else {
			cr_assert_eq(be16(seg + 2), n);
			cr_assert_eq(be16(seg + 4), (uint16_t)(0x1234 + i));
			cr_assert_eq(naive_sum(seg, 20, 0), 0xffff, "IPv4 header checksum, segment %u", i);
		}
		cr_assert_eq(be32(tcp + 4), (uint32_t)(0xfffffc00u + covered), "seq of segment %u", i);
		cr_assert_eq(tcp[13] & 0x01, last ? 0x01 : 0, "FIN on segment %u", i);
		cr_assert_eq(tcp[13] & 0x08, last ? 0x08 : 0, "PSH on segment %u", i);
		cr_assert_eq(tcp[13] & 0x80, i == 0 ? 0x80 : 0, "CWR on segment %u", i);
		cr_assert_eq(tcp[13] & 0x10, 0x10, "ACK on segment %u", i);
		cr_assert_arr_eq(tcp + 20, packet + l4 + 20, 12, "options of segment %u", i);
		cr_assert_arr_eq(seg + hdr, packet + hdr + covered, want, "payload of segment %u", i);
		cr_assert(tcp_csum_ok(seg, n, ipv6), "TCP checksum of segment %u", i);
		covered += want;
	}
	cr_assert_eq(covered, payload);
}

Test(offload, tso_ipv4_with_a_short_last_segment)
{
	check_segments(false, 9500, 1000);
}

Test(offload, tso_ipv4_largest)
{
	check_segments(false, 65535 - 52, 1368);
}

Test(offload, tso_ipv6_exact_multiple)
{
	check_segments(true, 1348 * 7, 1348);
}

Test(offload, tso_ipv6_odd_lengths)
{
	check_segments(true, 4001, 1001);
}

Test(offload, tso_refuses_what_it_cannot_cut)
{
	static uint8_t packet[4000];
	size_t len = build_tso(packet, false, 3000, 0x10);
	struct virtio_net_hdr vh = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
		.hdr_len = 52, .gso_size = 1000, .csum_start = 20, .csum_offset = 16,
	};
	struct virtio_net_hdr bad;
	struct fs_tso tso;

	cr_assert(fs_tso_init(&tso, &vh, packet, len));
	bad = vh;
	bad.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	cr_assert_not(fs_tso_init(&tso, &bad, packet, len), "UDP fragmentation offload");
	bad = vh;
	bad.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	cr_assert_not(fs_tso_init(&tso, &bad, packet, len), "IPv6 type on an IPv4 packet");
	bad = vh;
	bad.csum_start = 24;
	cr_assert_not(fs_tso_init(&tso, &bad, packet, len), "transport offset past the IP header");
	bad = vh;
	bad.gso_size = 0;
	cr_assert_not(fs_tso_init(&tso, &bad, packet, len), "zero segment size");
	bad = vh;
	bad.csum_offset = 6;
	cr_assert_not(fs_tso_init(&tso, &bad, packet, len), "checksum not where TCP keeps it");
	cr_assert_not(fs_tso_init(&tso, &vh, packet, 52), "headers only");
	cr_assert_not(fs_tso_init(&tso, &vh, packet, 30), "truncated TCP header");
	packet[32] = 0xf0;	/* data offset 60 bytes: past this short packet */
	cr_assert_not(fs_tso_init(&tso, &vh, packet, 70), "TCP header longer than the packet");
}
