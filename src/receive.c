// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Receiving: handshake messages on the control thread (they come through
 * the device's queue), data messages on the workers.
 */
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <string.h>
#include "allowedips.h"
#include "clock.h"
#include "cookie.h"
#include "device.h"
#include "log.h"
#include "ratelimiter.h"
#include "transport.h"

static struct fs_noise_peer *lookup_peer(void *ctx, const uint8_t public_key[WG_KEY_LEN])
{
	struct fs_peer *peer = fs_device_lookup_peer(ctx, public_key);

	return peer ? peer->noise : NULL;
}

static void count(uint64_t *counter)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

static void endpoint_from_item(struct fs_endpoint *endpoint, const struct fs_handshake_item *item)
{
	*endpoint = item->local;
	endpoint->addr = item->src;
}

static void send_cookie(struct fs_device *dev, const struct fs_handshake_item *item,
			uint32_t sender_index, uint64_t now)
{
	struct wg_message_handshake_cookie reply;
	struct fs_endpoint endpoint;

	if (!fs_cookie_create_reply(dev->cookie_checker, &reply, item->msg, item->len,
				    sender_index, &item->src.sa, now))
		return;
	endpoint_from_item(&endpoint, item);
	fs_send_datagram(dev, &endpoint, &reply, sizeof(reply));
}

/* Control thread, dev->lock held. */
void fs_receive_handshake(struct fs_device *dev, struct fs_handshake_item *item, uint64_t now)
{
	enum wg_message_type type = fs_message_classify(item->msg, item->len);
	enum fs_cookie_mac_state mac_state;
	struct fs_endpoint endpoint;
	struct fs_noise_peer *noise;
	struct fs_peer *peer;
	bool under_load, needs_cookie;
	char name[64];

	if (type == WG_MESSAGE_HANDSHAKE_COOKIE) {
		if (!fs_cookie_consume_reply((void *)item->msg, dev->index, now))
			count(&dev->drops.handshake_invalid);
		return;
	}
	if (type != WG_MESSAGE_HANDSHAKE_INITIATION && type != WG_MESSAGE_HANDSHAKE_RESPONSE) {
		count(&dev->drops.malformed);
		return;
	}

	under_load = fs_device_under_load(dev, now);
	mac_state = fs_cookie_validate(dev->cookie_checker, item->msg, item->len, &item->src.sa,
				       under_load, now);
	if ((under_load && mac_state == FS_COOKIE_VALID_MAC_WITH_COOKIE) ||
	    (!under_load && mac_state == FS_COOKIE_VALID_MAC_BUT_NO_COOKIE)) {
		needs_cookie = false;
	} else if (under_load && mac_state == FS_COOKIE_VALID_MAC_BUT_NO_COOKIE) {
		needs_cookie = true;
	} else {
		count(&dev->drops.handshake_invalid);
		return;
	}
	if (under_load && !needs_cookie &&
	    !fs_ratelimiter_allow(dev->ratelimiter, &item->src.sa, now)) {
		count(&dev->drops.ratelimited);
		return;
	}

	endpoint_from_item(&endpoint, item);
	if (type == WG_MESSAGE_HANDSHAKE_INITIATION) {
		const struct wg_message_handshake_initiation *msg = (const void *)item->msg;

		if (needs_cookie) {
			send_cookie(dev, item, le32toh(msg->sender_index), now);
			return;
		}
		noise = fs_noise_consume_initiation(msg, dev->identity, lookup_peer, dev, now);
		if (!noise) {
			count(&dev->drops.handshake_invalid);
			return;
		}
		peer = noise->owner;
		fs_peer_learn_endpoint(peer, &endpoint, now);
		fs_peer_log_name(peer, name, sizeof(name));
		fs_log_debug("%s: received handshake initiation", name);
		fs_send_handshake_response(peer, now);
	} else {
		const struct wg_message_handshake_response *msg = (const void *)item->msg;

		if (needs_cookie) {
			send_cookie(dev, item, le32toh(msg->sender_index), now);
			return;
		}
		noise = fs_noise_consume_response(msg, dev->identity, dev->index);
		if (!noise) {
			count(&dev->drops.handshake_invalid);
			return;
		}
		peer = noise->owner;
		fs_peer_handshake_complete(peer, &endpoint, now);
		fs_peer_log_name(peer, name, sizeof(name));
		fs_log_debug("%s: received handshake response", name);
		if (fs_noise_begin_session(noise, dev->index, now)) {
			fs_peer_session_began(peer);
			fs_timers_session_derived(peer, now);
			fs_timers_handshake_complete(peer);
			/* Sends what waited, or a keepalive to confirm the session. */
			fs_send_keepalive(peer, now);
		}
	}
	fs_timers_any_authenticated_packet_received(peer);
	fs_timers_any_authenticated_packet_traversal(peer, now);
	__atomic_fetch_add(&peer->rx_bytes, item->len, __ATOMIC_RELAXED);
	/* The way it came may prove (or show alive past a failure of) a spread source. */
	fs_peer_spread_check(peer, false, now);
}

/* The kernel's keep_key_fresh on receive: rekey before the keypair dies. */
static void keep_key_fresh_received(struct fs_peer *peer, uint64_t now)
{
	struct fs_noise_keypair *keypair;

	if (__atomic_load_n(&peer->sent_lastminute_handshake, __ATOMIC_RELAXED))
		return;
	keypair = fs_noise_current_keypair(peer->noise);
	if (keypair && __atomic_load_n(&keypair->sending_valid, __ATOMIC_RELAXED) &&
	    keypair->i_am_the_initiator &&
	    fs_has_expired(keypair->birthdate,
			   WG_REJECT_AFTER_TIME - WG_KEEPALIVE_TIMEOUT - WG_REKEY_TIMEOUT, now)) {
		__atomic_store_n(&peer->sent_lastminute_handshake, true, __ATOMIC_RELAXED);
		fs_timer_mod(peer, FS_TIMER_WANT_HANDSHAKE, now);
	}
}

/* The inner packet's true length and source, or 0 if its header is not sane. */
static size_t inner_packet(const uint8_t *packet, size_t len, int *family, const void **src)
{
	if (len >= sizeof(struct iphdr) && packet[0] >> 4 == 4) {
		const struct iphdr *ip = (const void *)packet;
		size_t total = ntohs(ip->tot_len);

		if (ip->ihl < 5 || total < ip->ihl * 4U || total > len)
			return 0;
		*family = AF_INET;
		*src = &ip->saddr;
		return total;
	}
	if (len >= sizeof(struct ip6_hdr) && packet[0] >> 4 == 6) {
		const struct ip6_hdr *ip6 = (const void *)packet;
		size_t total = sizeof(*ip6) + ntohs(ip6->ip6_plen);

		if (total > len)
			return 0;
		*family = AF_INET6;
		*src = &ip6->ip6_src;
		return total;
	}
	return 0;
}

/* Worker, inside an RCU read-side section. */
ssize_t fs_receive_data(struct fs_device *dev, uint8_t *msg, size_t len,
			const struct fs_endpoint *from, uint8_t **inner, uint64_t now)
{
	struct fs_noise_keypair *keypair;
	struct fs_index_entry *entry;
	struct fs_peer *peer;
	const void *src;
	size_t inner_len;
	ssize_t plain;
	int family;

	entry = fs_index_lookup(dev->index, FS_INDEX_KEYPAIR, fs_transport_receiver(msg));
	if (!entry) {
		count(&dev->drops.unknown_index);
		return -ENOKEY;
	}
	keypair = (struct fs_noise_keypair *)entry;
	peer = entry->peer->owner;
	if (__atomic_load_n(&peer->is_dead, __ATOMIC_ACQUIRE)) {
		count(&dev->drops.unknown_index);
		return -ENOKEY;
	}

	plain = fs_transport_decrypt(keypair, msg + sizeof(struct wg_message_data), msg, len, now);
	if (plain < 0) {
		count(plain == -EBADMSG ? &dev->drops.bad_mac :
		      plain == -EALREADY ? &dev->drops.replayed : &dev->drops.expired_key);
		return plain;
	}

	fs_peer_learn_endpoint(peer, from, now);
	if (__atomic_load_n(&peer->noise->next, __ATOMIC_ACQUIRE) == keypair) {
		bool confirmed;

		pthread_mutex_lock(&dev->lock);
		confirmed = fs_noise_received_with_keypair(peer->noise, keypair, dev->index);
		if (confirmed)
			fs_timers_handshake_complete(peer);
		pthread_mutex_unlock(&dev->lock);
		if (confirmed)
			fs_timer_mod(peer, FS_TIMER_WANT_STAGED, now);
	}
	keep_key_fresh_received(peer, now);
	fs_timers_any_authenticated_packet_received(peer);
	fs_timers_any_authenticated_packet_traversal(peer, now);
	__atomic_fetch_add(&peer->rx_bytes, len, __ATOMIC_RELAXED);
	if (plain == 0)
		return 0;	/* keepalive */

	fs_timers_data_received(peer, now);
	*inner = msg + sizeof(struct wg_message_data);
	inner_len = inner_packet(*inner, (size_t)plain, &family, &src);
	if (!inner_len) {
		count(&dev->drops.malformed);
		return -EINVAL;
	}
	if (fs_allowedips_lookup(dev->allowedips, family, src) != peer) {
		count(&dev->drops.source_not_allowed);
		return -EPERM;
	}
	return (ssize_t)inner_len;
}
