/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FLOWSPREAD_WORKER_H
#define FLOWSPREAD_WORKER_H

#include <stdint.h>

struct fs_device;
struct fs_worker;

/*
 * Per-worker counters. Each is written by its worker only (relaxed atomic
 * stores); anyone may read them with fs_worker_stats.
 */
struct fs_worker_stats {
	uint64_t rx_datagrams;		/* UDP datagrams received */
	uint64_t tx_datagrams;		/* UDP datagrams sent (each of a GSO send) */
	uint64_t tx_gso_sends;		/* sends of several datagrams (UDP GSO) */
	uint64_t tx_errors;		/* failed sends */
	uint64_t tx_gso_errors;		/* failed sends of several datagrams */
	uint64_t tun_reads, tun_writes;
	uint64_t rx_nobufs;		/* the receive buffers ran out */
	uint64_t submit_batches;	/* io_uring submits */
	uint64_t gso_off;		/* 1 once UDP GSO was turned off for this worker */
};

/*
 * Starts a worker thread moving packets between tun_fd (its own TUN queue,
 * or -1 to only receive) and udp_fd. Its io_uring is created on the
 * worker's own thread.
 */
struct fs_worker *fs_worker_start(struct fs_device *dev, unsigned int id, int tun_fd, int udp_fd);
/* Asks the worker to stop, waits for it and frees it. */
void fs_worker_stop(struct fs_worker *worker);
/* A snapshot of the worker's counters (atomic loads), from any thread. */
void fs_worker_stats(const struct fs_worker *worker, struct fs_worker_stats *out);

#endif
