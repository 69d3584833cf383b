// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The interface picture's storage, and key encodings. Keys go through
 * libsodium's constant-time hex and base64 (original variant, padded),
 * which also refuses base64 whose unused low bits are not zero, as wg does.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include "containers.h"

void ctl_device_init(struct ctl_device *dev)
{
	memset(dev, 0, sizeof(*dev));
}

static void peer_free(struct ctl_peer *peer)
{
	free(peer->allowed_ips.items);
	free(peer->endpoint_alt.items);
	free(peer->spread_prefixes.items);
	free(peer->states);
	sodium_memzero(peer, sizeof(*peer));
}

void ctl_device_free(struct ctl_device *dev)
{
	for (size_t i = 0; i < dev->n_peers; ++i)
		peer_free(&dev->peers[i]);
	free(dev->peers);
	free(dev->spread_prefixes.items);
	sodium_memzero(dev, sizeof(*dev));
}

/* Room for one more item in *items (n used of *alloc); false when out of memory. */
static bool grow(void **items, size_t *alloc, size_t n, size_t size)
{
	size_t want;
	void *bigger;

	if (n < *alloc)
		return true;
	want = *alloc ? *alloc * 2 : 4;
	if (want > SIZE_MAX / size)
		return false;
	bigger = realloc(*items, want * size);
	if (!bigger)
		return false;
	*items = bigger;
	*alloc = want;
	return true;
}

struct ctl_peer *ctl_device_add_peer(struct ctl_device *dev)
{
	struct ctl_peer *peer;
	struct ctl_peer *old = dev->peers;
	size_t old_alloc = dev->alloc_peers;

	/* Peers hold preshared keys: never leave a copy behind in freed memory. */
	if (dev->n_peers == dev->alloc_peers) {
		size_t want = old_alloc ? old_alloc * 2 : 4;
		struct ctl_peer *bigger;

		if (want > SIZE_MAX / sizeof(*bigger))
			return NULL;
		bigger = calloc(want, sizeof(*bigger));
		if (!bigger)
			return NULL;
		if (old) {
			memcpy(bigger, old, dev->n_peers * sizeof(*old));
			sodium_memzero(old, old_alloc * sizeof(*old));
			free(old);
		}
		dev->peers = bigger;
		dev->alloc_peers = want;
	}
	peer = &dev->peers[dev->n_peers++];
	memset(peer, 0, sizeof(*peer));
	return peer;
}

struct ctl_peer *ctl_device_find_peer(const struct ctl_device *dev,
				      const uint8_t public_key[WG_KEY_LEN])
{
	for (size_t i = 0; i < dev->n_peers; ++i)
		if (!memcmp(dev->peers[i].public_key, public_key, WG_KEY_LEN))
			return &dev->peers[i];
	return NULL;
}

bool ctl_prefix_list_add(struct ctl_prefix_list *list, const struct fs_prefix *prefix)
{
	if (!grow((void **)&list->items, &list->alloc, list->n, sizeof(*list->items)))
		return false;
	list->items[list->n++] = *prefix;
	return true;
}

bool ctl_endpoint_list_add(struct ctl_endpoint_list *list, const union fs_sockaddr *endpoint)
{
	if (!grow((void **)&list->items, &list->alloc, list->n, sizeof(*list->items)))
		return false;
	list->items[list->n++] = *endpoint;
	return true;
}

bool ctl_peer_add_state(struct ctl_peer *peer, const struct ctl_endpoint_state *state)
{
	if (!grow((void **)&peer->states, &peer->alloc_states, peer->n_states,
		  sizeof(*peer->states)))
		return false;
	peer->states[peer->n_states++] = *state;
	return true;
}

char *ctl_key_to_base64(char out[CTL_KEY_BASE64_LEN], const uint8_t key[WG_KEY_LEN])
{
	return sodium_bin2base64(out, CTL_KEY_BASE64_LEN, key, WG_KEY_LEN,
				 sodium_base64_VARIANT_ORIGINAL);
}

bool ctl_key_from_base64(uint8_t key[WG_KEY_LEN], const char *base64)
{
	uint8_t decoded[WG_KEY_LEN];
	size_t len = 0;
	const char *end = NULL;
	bool ok;

	if (strlen(base64) != CTL_KEY_BASE64_LEN - 1 || base64[CTL_KEY_BASE64_LEN - 2] != '=')
		return false;
	ok = !sodium_base642bin(decoded, sizeof(decoded), base64, CTL_KEY_BASE64_LEN - 1, NULL,
				&len, &end, sodium_base64_VARIANT_ORIGINAL) &&
	     len == WG_KEY_LEN && end == base64 + CTL_KEY_BASE64_LEN - 1;
	if (ok)
		memcpy(key, decoded, WG_KEY_LEN);
	sodium_memzero(decoded, sizeof(decoded));
	return ok;
}

char *ctl_key_to_hex(char out[CTL_KEY_HEX_LEN], const uint8_t key[WG_KEY_LEN])
{
	return sodium_bin2hex(out, CTL_KEY_HEX_LEN, key, WG_KEY_LEN);
}

bool ctl_key_from_hex(uint8_t key[WG_KEY_LEN], const char *hex)
{
	uint8_t decoded[WG_KEY_LEN];
	size_t len = 0;
	const char *end = NULL;
	bool ok;

	if (strlen(hex) != CTL_KEY_HEX_LEN - 1)
		return false;
	ok = !sodium_hex2bin(decoded, sizeof(decoded), hex, CTL_KEY_HEX_LEN - 1, NULL, &len, &end) &&
	     len == WG_KEY_LEN && end == hex + CTL_KEY_HEX_LEN - 1;
	if (ok)
		memcpy(key, decoded, WG_KEY_LEN);
	sodium_memzero(decoded, sizeof(decoded));
	return ok;
}

bool ctl_key_is_zero(const uint8_t key[WG_KEY_LEN])
{
	return sodium_is_zero(key, WG_KEY_LEN);
}
