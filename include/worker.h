/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FLOWSPREAD_WORKER_H
#define FLOWSPREAD_WORKER_H

#include <stdint.h>

struct fs_device;
struct fs_worker;

/* Per-worker counters, read by the control thread; atomic. */
struct fs_worker_stats {
	uint64_t rx_datagrams, tx_datagrams;
	uint64_t tun_reads, tun_writes;
	uint64_t rx_nobufs, submit_batches;
};

/*
 * Starts a worker thread moving packets between tun_fd (its own TUN queue,
 * or -1 to only receive) and udp_fd. Its io_uring is created on the
 * worker's own thread.
 */
struct fs_worker *fs_worker_start(struct fs_device *dev, unsigned int id, int tun_fd, int udp_fd);
/* Asks the worker to stop, waits for it and frees it. */
void fs_worker_stop(struct fs_worker *worker);
const struct fs_worker_stats *fs_worker_stats(const struct fs_worker *worker);

#endif
