/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * syncconf: what `wg syncconf` sends, so that live sessions survive.
 * Given the file as setconf would send it and the running configuration:
 *  - when either has no peers, the request stays as it is (replace_peers
 *    then removes nothing that should stay);
 *  - otherwise replace_peers is dropped, each running peer missing from
 *    the file gets a "remove=true" block (these come first, in the running
 *    order), and a peer in both whose file entry has no PresharedKey
 *    (PersistentKeepalive) gets its running preshared key (keepalive)
 *    cleared, since the file means "none". Every file peer keeps
 *    replace_allowed_ips, as with setconf.
 *
 * Extension settings the running configuration has and the file lacks are
 * cleared (the request carries their empty value, see containers.h):
 * device-level ones always (ctl_sync_clear_device, which setconf uses too),
 * peer-level ones of the peers that stay (the others are removed or
 * created anew). A running list (spread prefixes, alternate endpoints) is
 * always emptied first, then gets the file's items, if any. A running
 * setting at its default (spread_pairs=1024, endpoint_limit=8, steer=off,
 * which flowspreadd always reports) is not cleared: there is nothing to
 * undo, and a daemon that does not know empty values is not sent any.
 *
 * Peers are matched through a sorted index of the file's keys, so the diff
 * takes n log n for n peers.
 */
#ifndef FLOWSPREAD_CTL_SYNC_H
#define FLOWSPREAD_CTL_SYNC_H

#include <stdbool.h>
#include "containers.h"

/* Rewrites *file in place; false when out of memory (*file unchanged). */
bool ctl_sync_diff(struct ctl_device *file, const struct ctl_device *running);

/* Marks the device-level extension settings running has and file lacks to be cleared. */
void ctl_sync_clear_device(struct ctl_device *file, const struct ctl_device *running);

#endif
