/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The cross-platform userspace API (https://www.wireguard.com/xplatform/)
 * over /var/run/wireguard/IFNAME.sock, as wg speaks it, plus flowspread's
 * extension keys (DESIGN.md section 1).
 *
 * The text side is pure, for the unit tests: ctl_uapi_parse_get() reads a
 * whole "get=1" answer, ctl_uapi_format_set() writes a whole "set=1"
 * request, ctl_uapi_parse_errno() reads the answer to one. The socket side
 * (ctl_uapi_get, ctl_uapi_set, ctl_uapi_list) returns 0 or -errno and
 * describes the failure in err, naming the interface.
 *
 * A "get" answer's unknown keys are skipped (newer daemons may add some);
 * a known key with a malformed value is an error (-EPROTO) naming the line.
 * The daemon's errno line is taken as either sign (wireguard-go writes
 * errno=-22, a kernel-style one would write 22): both mean EINVAL.
 */
#ifndef FLOWSPREAD_CTL_IPC_H
#define FLOWSPREAD_CTL_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include "containers.h"
#include "util.h"

#define CTL_UAPI_DIR "/var/run/wireguard"

/*
 * Parses the lines of a get answer (up to and including "errno=N" and the
 * empty line; the empty line may be missing) into the empty *dev. Returns
 * 0, the daemon's nonzero errno as -E, -EPROTO (malformed, or no errno
 * line) or -ENOMEM.
 */
int ctl_uapi_parse_get(struct ctl_device *dev, const char *text, size_t len, char *err,
		       size_t errlen);

/* The whole request, from "set=1\n" to the final empty line. */
void ctl_uapi_format_set(struct ctl_buf *out, const struct ctl_device *dev);

/* "errno=N\n\n" → -|N|; anything else → -EPROTO. */
int ctl_uapi_parse_errno(const char *text, size_t len);

/* True when ifname can name a socket: 1..15 characters, no '/', not "." or "..". */
bool ctl_uapi_valid_name(const char *ifname);

int ctl_uapi_get(struct ctl_device *dev, const char *ifname, char *err, size_t errlen);
int ctl_uapi_set(const char *ifname, const struct ctl_device *dev, char *err, size_t errlen);

/* The interfaces with a live socket in CTL_UAPI_DIR, sorted; free with ctl_uapi_list_free. */
int ctl_uapi_list(char ***names, size_t *n);
void ctl_uapi_list_free(char **names, size_t n);

#endif
