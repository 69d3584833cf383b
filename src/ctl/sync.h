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
 * Extension keys cannot be cleared through the UAPI (it has no key for
 * "no alternate endpoints"), so running ones the file lacks stay.
 */
#ifndef FLOWSPREAD_CTL_SYNC_H
#define FLOWSPREAD_CTL_SYNC_H

#include <stdbool.h>
#include "containers.h"

/* Rewrites *file in place; false when out of memory (*file unchanged). */
bool ctl_sync_diff(struct ctl_device *file, const struct ctl_device *running);

#endif
