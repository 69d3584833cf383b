// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The spread key and the mapping of spread.h, where the derivation is
 * written out. Every hash input starts with a one-byte domain ("F" for
 * flows, "P" for pairs), so no flow message equals a pair message.
 */
#include <string.h>
#include <sys/socket.h>
#include <sodium.h>
#include "hash.h"
#include "spread.h"

static const char spread_label[] = "flowspread v1 spread key";

enum {
	DOMAIN_FLOW = 'F',
	DOMAIN_PAIR = 'P',
	PAIR_MESSAGE_LEN = 1 + 4 + 1 + 4,
	RFC2526_MASK = 0x7f,
};

#define RFC2526_ANYCAST_BASE UINT64_C(0xfdffffffffffff80)

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; --i)
		v = v << 8 | p[i];
	return v;
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; ++i)
		v = v << 8 | p[i];
	return v;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; ++i)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- the key and the roles --------------------------------------------- */

bool fs_spread_key_derive(uint8_t key[FS_SPREAD_KEY_LEN],
			  const uint8_t sending_key[WG_KEY_LEN],
			  const uint8_t receiving_key[WG_KEY_LEN], bool i_am_the_initiator)
{
	const uint8_t *t_i = i_am_the_initiator ? sending_key : receiving_key;
	const uint8_t *t_r = i_am_the_initiator ? receiving_key : sending_key;
	uint8_t chaining_key[FS_BLAKE2S_OUTBYTES];
	uint8_t material[2 * WG_KEY_LEN];

	if (sodium_is_zero(sending_key, WG_KEY_LEN) || sodium_is_zero(receiving_key, WG_KEY_LEN)) {
		sodium_memzero(key, FS_SPREAD_KEY_LEN);
		return false;
	}
	fs_blake2s(chaining_key, sizeof(chaining_key), spread_label, sizeof(spread_label) - 1,
		   NULL, 0);
	memcpy(material, t_i, WG_KEY_LEN);
	memcpy(material + WG_KEY_LEN, t_r, WG_KEY_LEN);
	fs_kdf(key, NULL, NULL, material, sizeof(material), chaining_key);
	sodium_memzero(material, sizeof(material));
	return true;
}

enum fs_spread_role fs_spread_role(const uint8_t local_public[WG_KEY_LEN],
				   const uint8_t remote_public[WG_KEY_LEN])
{
	return memcmp(local_public, remote_public, WG_KEY_LEN) <= 0 ? FS_SPREAD_LOWER
								     : FS_SPREAD_HIGHER;
}

/* ---- flows to pairs ------------------------------------------------------ */

uint32_t fs_spread_pair_index(const uint8_t key[FS_SPREAD_KEY_LEN],
			      const struct fs_flowkey *flow, uint32_t spread_pairs)
{
	uint8_t message[1 + sizeof(*flow)];
	uint8_t digest[8];

	message[0] = DOMAIN_FLOW;
	memcpy(message + 1, flow, sizeof(*flow));
	fs_blake2s(digest, sizeof(digest), message, sizeof(message), key, FS_SPREAD_KEY_LEN);
	return (uint32_t)(le64(digest) % (spread_pairs ? spread_pairs : 1));
}

/* H(r, j) of spread.h. */
static void pair_hash(uint8_t out[FS_BLAKE2S_OUTBYTES], const uint8_t key[FS_SPREAD_KEY_LEN],
		      uint32_t index, enum fs_spread_role role, uint32_t attempt)
{
	uint8_t message[PAIR_MESSAGE_LEN];

	message[0] = DOMAIN_PAIR;
	put_le32(message + 1, index);
	message[5] = (uint8_t)role;
	put_le32(message + 6, attempt);
	fs_blake2s(out, FS_BLAKE2S_OUTBYTES, message, sizeof(message), key, FS_SPREAD_KEY_LEN);
}

/* ---- addresses from prefixes -------------------------------------------- */

static size_t address_len(const struct fs_prefix *prefix)
{
	if (prefix->family == AF_INET)
		return prefix->cidr <= 32 ? 4 : 0;
	if (prefix->family == AF_INET6)
		return prefix->cidr <= 128 ? 16 : 0;
	return 0;
}

/* The netmask's byte i for this prefix. */
static uint8_t mask_byte(const struct fs_prefix *prefix, size_t i)
{
	int bits = prefix->cidr - 8 * (int)i;

	if (bits <= 0)
		return 0;
	if (bits >= 8)
		return 0xff;
	return (uint8_t)(0xff << (8 - bits));
}

void fs_spread_address_compose(uint8_t out[16], const struct fs_prefix *prefix,
			       const uint8_t host[16])
{
	size_t len = address_len(prefix);

	memset(out, 0, 16);
	for (size_t i = 0; i < len; ++i) {
		uint8_t mask = mask_byte(prefix, i);

		out[i] = (uint8_t)((prefix->addr.bytes[i] & mask) | (host[i] & ~mask));
	}
}

bool fs_spread_address_valid(const struct fs_prefix *prefix, const uint8_t address[16])
{
	size_t len = address_len(prefix);
	bool host_zero = true, host_ones = true;
	uint64_t iid;

	if (!len)
		return false;
	if (prefix->cidr == 8 * len || (prefix->family == AF_INET && prefix->cidr == 31))
		return true;	/* a single address, or the two of an RFC 3021 /31 */
	for (size_t i = 0; i < len; ++i) {
		uint8_t mask = mask_byte(prefix, i);

		host_zero &= (address[i] & ~mask & 0xff) == 0;
		host_ones &= (address[i] | mask) == 0xff;
	}
	if (host_zero)
		return false;
	if (prefix->family == AF_INET)
		return !host_ones;
	iid = be64(address + 8);
	return iid != 0 && (iid & ~(uint64_t)RFC2526_MASK) != RFC2526_ANYCAST_BASE;
}

/* The host part 1: the fallback, valid whenever any address is. */
static void address_fallback(uint8_t out[16], const struct fs_prefix *prefix)
{
	uint8_t host[16] = { 0 };
	size_t len = address_len(prefix);

	if (len)
		host[len - 1] = 1;
	fs_spread_address_compose(out, prefix, host);
}

bool fs_spread_prefix_usable(const struct fs_prefix *prefix)
{
	uint8_t address[16];

	address_fallback(address, prefix);
	return fs_spread_address_valid(prefix, address);
}

bool fs_spread_address_pick(uint8_t out[16], const struct fs_prefix *prefix,
			    fs_spread_sampler sample, void *ctx)
{
	uint8_t host[16];

	if (!address_len(prefix))
		return false;
	for (uint32_t attempt = 0; attempt < FS_SPREAD_HOST_ATTEMPTS; ++attempt) {
		sample(host, attempt, ctx);
		fs_spread_address_compose(out, prefix, host);
		if (fs_spread_address_valid(prefix, out))
			return true;
	}
	address_fallback(out, prefix);
	return fs_spread_address_valid(prefix, out);
}

/* ---- pairs to ends ------------------------------------------------------- */

struct pair_sampler {
	const uint8_t *key;
	const uint8_t *first;	/* H(r, 0), already computed */
	uint32_t index;
	enum fs_spread_role role;
};

static void sample_host(uint8_t host[16], uint32_t attempt, void *ctx)
{
	const struct pair_sampler *s = ctx;
	uint8_t h[FS_BLAKE2S_OUTBYTES];

	if (!attempt) {
		memcpy(host, s->first, 16);
		return;
	}
	pair_hash(h, s->key, s->index, s->role, attempt);
	memcpy(host, h, 16);
	sodium_memzero(h, sizeof(h));
}

bool fs_spread_end_derive(struct fs_spread_end *out, const uint8_t key[FS_SPREAD_KEY_LEN],
			  uint32_t index, enum fs_spread_role role,
			  const struct fs_spread_range *range)
{
	uint8_t h[FS_BLAKE2S_OUTBYTES];
	struct pair_sampler sampler = { .key = key, .first = h, .index = index, .role = role };
	bool ok = true;

	memset(out, 0, sizeof(*out));
	if (range->port_low > range->port_high)
		return false;
	if (!range->nprefixes && !range->port_high)
		return true;	/* nothing to draw: no hash to pay for */
	pair_hash(h, key, index, role, 0);
	if (range->nprefixes) {
		const struct fs_prefix *prefix;

		out->prefix_index = (uint32_t)(le64(h + 16) % range->nprefixes);
		prefix = &range->prefixes[out->prefix_index];
		out->family = prefix->family;
		out->has_address = ok = fs_spread_address_pick(out->addr.bytes, prefix, sample_host,
							       &sampler);
	}
	if (range->port_high)
		out->port = (uint16_t)(range->port_low +
				       le64(h + 24) % ((uint32_t)range->port_high -
						       range->port_low + 1));
	sodium_memzero(h, sizeof(h));
	return ok;
}

bool fs_spread_pair_derive(struct fs_spread_pair *out, const uint8_t key[FS_SPREAD_KEY_LEN],
			   uint32_t index, enum fs_spread_role local_role,
			   const struct fs_spread_range *local, const struct fs_spread_range *remote)
{
	enum fs_spread_role remote_role = local_role == FS_SPREAD_LOWER ? FS_SPREAD_HIGHER
									: FS_SPREAD_LOWER;
	bool ok;

	out->index = index;
	ok = fs_spread_end_derive(&out->local, key, index, local_role, local);
	return fs_spread_end_derive(&out->remote, key, index, remote_role, remote) && ok;
}
