// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The kernel driver's timer state machine (timers.c), with deadlines
 * instead of kernel timers. Each peer has one deadline per timer,
 * 0 when idle. The datapath arms and disarms them with atomic stores; the
 * control thread runs the due ones in fs_timers_run and sleeps until the
 * earliest. Arming a deadline earlier than the control thread's planned
 * wake-up kicks it.
 *
 *   data sent, none pending     -> new_handshake in KEEPALIVE + REKEY_TIMEOUT + jitter
 *   data received               -> send_keepalive in KEEPALIVE (or "one more")
 *   any authenticated sent      -> cancel send_keepalive
 *   any authenticated received  -> cancel new_handshake
 *   initiation sent             -> retransmit_handshake in REKEY_TIMEOUT + jitter
 *   handshake complete          -> cancel retransmit, attempts = 0
 *   session derived             -> zero_key_material in 3 * REJECT_AFTER_TIME
 *   any authenticated traversal -> persistent_keepalive in its interval
 */
#include <sodium.h>
#include <time.h>
#include "clock.h"
#include "device.h"
#include "log.h"
#include "noise.h"

static uint64_t jitter(void)
{
	return randombytes_uniform(WG_REKEY_TIMEOUT_JITTER_MAX_MS) * FS_NSEC_PER_MSEC;
}

/*
 * dev->next_wake is never later than any armed deadline: arming lowers it,
 * the control thread's scan sets it from what it found. Lowers it to
 * deadline if that is earlier; true if it did (the control thread must
 * wake up sooner).
 */
static bool lower_next_wake(struct fs_device *dev, uint64_t deadline)
{
	uint64_t cur = __atomic_load_n(&dev->next_wake, __ATOMIC_SEQ_CST);

	while (deadline < cur)
		if (__atomic_compare_exchange_n(&dev->next_wake, &cur, deadline, false,
						__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			return true;
	return false;
}

void fs_timer_mod(struct fs_peer *peer, enum fs_timer timer, uint64_t deadline)
{
	if (!deadline)
		deadline = 1;
	if (__atomic_load_n(&peer->is_dead, __ATOMIC_ACQUIRE))
		return;
	__atomic_store_n(&peer->timers[timer], deadline, __ATOMIC_SEQ_CST);
	if (lower_next_wake(peer->device, deadline))
		fs_device_kick(peer->device);
}

void fs_timer_del(struct fs_peer *peer, enum fs_timer timer)
{
	/* Read first: most calls find it idle and need not dirty the line. */
	if (__atomic_load_n(&peer->timers[timer], __ATOMIC_RELAXED))
		__atomic_store_n(&peer->timers[timer], 0, __ATOMIC_RELAXED);
}

bool fs_timer_pending(struct fs_peer *peer, enum fs_timer timer)
{
	return __atomic_load_n(&peer->timers[timer], __ATOMIC_RELAXED) != 0;
}

void fs_timers_init(struct fs_peer *peer)
{
	uint64_t now = fs_clock_now();
	uint64_t rekey = (WG_REKEY_TIMEOUT + 1) * FS_NSEC_PER_SEC;

	/* Before the peer is published, but atomic as every other access. */
	for (int i = 0; i < FS_TIMER_COUNT; ++i)
		__atomic_store_n(&peer->timers[i], 0, __ATOMIC_RELAXED);
	__atomic_store_n(&peer->last_sent_handshake, now > rekey ? now - rekey : 0,
			 __ATOMIC_RELAXED);
	peer->handshake_attempts = 0;
}

void fs_timers_stop(struct fs_peer *peer)
{
	for (int i = 0; i < FS_TIMER_COUNT; ++i)
		__atomic_store_n(&peer->timers[i], 0, __ATOMIC_RELAXED);
}

void fs_timers_data_sent(struct fs_peer *peer, uint64_t now)
{
	if (!fs_timer_pending(peer, FS_TIMER_NEW_HANDSHAKE))
		fs_timer_mod(peer, FS_TIMER_NEW_HANDSHAKE,
			     now + (WG_KEEPALIVE_TIMEOUT + WG_REKEY_TIMEOUT) * FS_NSEC_PER_SEC + jitter());
}

void fs_timers_data_received(struct fs_peer *peer, uint64_t now)
{
	if (!fs_timer_pending(peer, FS_TIMER_SEND_KEEPALIVE))
		fs_timer_mod(peer, FS_TIMER_SEND_KEEPALIVE, now + WG_KEEPALIVE_TIMEOUT * FS_NSEC_PER_SEC);
	else if (!__atomic_load_n(&peer->need_another_keepalive, __ATOMIC_RELAXED))
		__atomic_store_n(&peer->need_another_keepalive, true, __ATOMIC_RELAXED);
}

void fs_timers_any_authenticated_packet_sent(struct fs_peer *peer)
{
	fs_timer_del(peer, FS_TIMER_SEND_KEEPALIVE);
}

void fs_timers_any_authenticated_packet_received(struct fs_peer *peer)
{
	fs_timer_del(peer, FS_TIMER_NEW_HANDSHAKE);
}

void fs_timers_handshake_initiated(struct fs_peer *peer, uint64_t now)
{
	fs_timer_mod(peer, FS_TIMER_RETRANSMIT_HANDSHAKE,
		     now + WG_REKEY_TIMEOUT * FS_NSEC_PER_SEC + jitter());
}

void fs_timers_handshake_complete(struct fs_peer *peer)
{
	struct timespec wall;

	fs_timer_del(peer, FS_TIMER_RETRANSMIT_HANDSHAKE);
	peer->handshake_attempts = 0;
	__atomic_store_n(&peer->sent_lastminute_handshake, false, __ATOMIC_RELAXED);
	clock_gettime(CLOCK_REALTIME, &wall);
	__atomic_store_n(&peer->last_handshake_nsec, (uint64_t)wall.tv_nsec, __ATOMIC_RELAXED);
	__atomic_store_n(&peer->last_handshake_sec, (uint64_t)wall.tv_sec, __ATOMIC_RELEASE);
}

void fs_timers_session_derived(struct fs_peer *peer, uint64_t now)
{
	fs_timer_mod(peer, FS_TIMER_ZERO_KEY_MATERIAL,
		     now + 3 * WG_REJECT_AFTER_TIME * FS_NSEC_PER_SEC);
}

void fs_timers_any_authenticated_packet_traversal(struct fs_peer *peer, uint64_t now)
{
	uint16_t interval = __atomic_load_n(&peer->persistent_keepalive, __ATOMIC_RELAXED);

	if (interval)
		fs_timer_mod(peer, FS_TIMER_PERSISTENT_KEEPALIVE, now + interval * FS_NSEC_PER_SEC);
}

/* ---- expiry, on the control thread with dev->lock held ------------------- */

static void expired_retransmit_handshake(struct fs_peer *peer, uint64_t now)
{
	char name[64];

	fs_peer_log_name(peer, name, sizeof(name));
	if (peer->handshake_attempts > WG_MAX_TIMER_HANDSHAKES) {
		fs_log_verbose("%s: handshake did not complete after %d attempts, giving up", name,
			       WG_MAX_TIMER_HANDSHAKES + 2);
		fs_timer_del(peer, FS_TIMER_SEND_KEEPALIVE);
		/* Drop what waited for a keypair, and do not try again. */
		fs_peer_purge_staged(peer);
		/* Destroy whatever is left of a partial exchange later. */
		if (!fs_timer_pending(peer, FS_TIMER_ZERO_KEY_MATERIAL))
			fs_timer_mod(peer, FS_TIMER_ZERO_KEY_MATERIAL,
				     now + 3 * WG_REJECT_AFTER_TIME * FS_NSEC_PER_SEC);
		return;
	}
	++peer->handshake_attempts;
	fs_log_verbose("%s: handshake did not complete after %d seconds, retrying (try %u)", name,
		       WG_REKEY_TIMEOUT, peer->handshake_attempts + 1);
	/* A failure for the endpoint it went to: the next try may go elsewhere. */
	fs_peer_handshake_timeout(peer, now);
	/* If it was a probe from a spread source, the retry goes from the plain one. */
	fs_peer_spread_check(peer, false, now);
	/* The source address may be what is wrong: let the kernel choose again. */
	fs_peer_clear_endpoint_src(peer);
	fs_send_queued_handshake_initiation(peer, true, now);
}

static void expired_send_keepalive(struct fs_peer *peer, uint64_t now)
{
	fs_send_keepalive(peer, now);
	if (__atomic_exchange_n(&peer->need_another_keepalive, false, __ATOMIC_RELAXED))
		fs_timer_mod(peer, FS_TIMER_SEND_KEEPALIVE, now + WG_KEEPALIVE_TIMEOUT * FS_NSEC_PER_SEC);
}

static void expired_new_handshake(struct fs_peer *peer, uint64_t now)
{
	char name[64];

	fs_peer_log_name(peer, name, sizeof(name));
	fs_log_verbose("%s: retrying handshake because we stopped hearing back after %d seconds",
		       name, WG_KEEPALIVE_TIMEOUT + WG_REKEY_TIMEOUT);
	/* Nothing came back through our spread sources either: stop using them. */
	fs_peer_spread_revoke(peer, now);
	fs_peer_clear_endpoint_src(peer);
	fs_send_queued_handshake_initiation(peer, false, now);
}

static void expired_zero_key_material(struct fs_peer *peer, uint64_t now)
{
	char name[64];

	fs_peer_log_name(peer, name, sizeof(name));
	fs_log_verbose("%s: zeroing out all keys after not receiving a new one in %d seconds", name,
		       3 * WG_REJECT_AFTER_TIME);
	fs_noise_handshake_clear(peer->noise, peer->device->index);
	fs_noise_keypairs_clear(peer->noise, peer->device->index);
}

static void expired_persistent_keepalive(struct fs_peer *peer, uint64_t now)
{
	if (__atomic_load_n(&peer->persistent_keepalive, __ATOMIC_RELAXED))
		fs_send_keepalive(peer, now);
}

static void want_handshake(struct fs_peer *peer, uint64_t now)
{
	fs_send_queued_handshake_initiation(peer, false, now);
}

static void want_staged(struct fs_peer *peer, uint64_t now)
{
	fs_send_staged(peer, now);
}

/* The datapath has traffic and a spread source it may not use yet. */
static void spread_path(struct fs_peer *peer, uint64_t now)
{
	fs_peer_spread_check(peer, true, now);
}

static void (*const expiry[FS_TIMER_COUNT])(struct fs_peer *, uint64_t) = {
	[FS_TIMER_RETRANSMIT_HANDSHAKE] = expired_retransmit_handshake,
	[FS_TIMER_SEND_KEEPALIVE] = expired_send_keepalive,
	[FS_TIMER_NEW_HANDSHAKE] = expired_new_handshake,
	[FS_TIMER_ZERO_KEY_MATERIAL] = expired_zero_key_material,
	[FS_TIMER_PERSISTENT_KEEPALIVE] = expired_persistent_keepalive,
	[FS_TIMER_WANT_HANDSHAKE] = want_handshake,
	[FS_TIMER_WANT_KEEPALIVE] = fs_send_keepalive,
	[FS_TIMER_WANT_STAGED] = want_staged,
	[FS_TIMER_SPREAD_PATH] = spread_path,
};

uint64_t fs_timers_run(struct fs_device *dev, uint64_t now)
{
	uint64_t next = __atomic_load_n(&dev->next_wake, __ATOMIC_SEQ_CST);
	struct fs_peer *peer;

	/*
	 * Nothing is due before next_wake: the loop wakes up for the UAPI,
	 * handshakes and the rest far more often than timers expire, and a
	 * scan visits every peer.
	 */
	if (now < next)
		return next;
	next = UINT64_MAX;
	/* Anything armed from now on lowers next_wake again, and kicks us. */
	__atomic_store_n(&dev->next_wake, UINT64_MAX, __ATOMIC_SEQ_CST);
	cds_list_for_each_entry(peer, &dev->peers, list) {
		for (int i = 0; i < FS_TIMER_COUNT; ++i) {
			uint64_t deadline = __atomic_load_n(&peer->timers[i], __ATOMIC_SEQ_CST);

			if (!deadline)
				continue;
			if (deadline <= now &&
			    __atomic_compare_exchange_n(&peer->timers[i], &deadline, 0, false,
							__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
				expiry[i](peer, now);
				deadline = __atomic_load_n(&peer->timers[i], __ATOMIC_SEQ_CST);
				if (!deadline)
					continue;
			}
			if (deadline < next)
				next = deadline;
		}
	}
	lower_next_wake(dev, next);
	return __atomic_load_n(&dev->next_wake, __ATOMIC_SEQ_CST);
}
