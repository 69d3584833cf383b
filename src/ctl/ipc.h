/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The cross-platform userspace API (https://www.wireguard.com/xplatform/)
 * over /var/run/wireguard/IFNAME.sock, as wg speaks it, plus flowspread's
 * extension keys (flowspreadd(8)).
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
#include <stdio.h>
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

enum {
	CTL_REASON_MAX = 512,	/* bytes of one "error=TEXT" a daemon may send */
};

/*
 * The answer to a set=1: zero or more "error=TEXT" lines (the reasons of a
 * refusal, each one line of human-readable text; flowspreadd sends them,
 * wireguard-go and older daemons do not), then "errno=N" and the empty
 * line. Other keys are skipped, as wg skips them.
 */
struct ctl_set_answer {
	int daemon_errno;	/* 0, or the daemon's errno as -E */
	size_t n_reasons;
	char **reasons;		/* printable: bytes outside ' '..'~' as '?', cut at CTL_REASON_MAX */
};

/* 0, -EPROTO (not an answer: a line without '=', no errno line) or -ENOMEM. */
int ctl_uapi_parse_set_answer(struct ctl_set_answer *answer, const char *text, size_t len);
void ctl_set_answer_free(struct ctl_set_answer *answer);

/*
 * What the user reads of a refused request: each reason as
 * "flowspreadctl: IFNAME: TEXT"; without reasons, the errno's meaning and
 * where the reason is (the daemon's log).
 */
void ctl_uapi_print_refusal(FILE *f, const char *ifname, const struct ctl_set_answer *answer);

/* True when ifname can name a socket: 1..15 characters, no '/', not "." or "..". */
bool ctl_uapi_valid_name(const char *ifname);

/* Reads from fd until the empty line that ends an answer, or the end of the stream. */
int ctl_uapi_read_answer(int fd, struct ctl_buf *answer);

/*
 * A socket that does not exist, or that nobody listens on (ENOENT,
 * ECONNREFUSED: the daemon is gone), is "no daemon"; any other failure to
 * connect (EACCES for a user who may not open it, ...) is an error that
 * names the socket, as wg reports it.
 */
int ctl_uapi_get(struct ctl_device *dev, const char *ifname, char *err, size_t errlen);
/*
 * A refusal is printed on stderr here (ctl_uapi_print_refusal: it may take
 * several lines) and err left empty; other failures are described in err.
 */
int ctl_uapi_set(const char *ifname, const struct ctl_device *dev, char *err, size_t errlen);

/*
 * The interfaces with a socket in CTL_UAPI_DIR, sorted, without those
 * nobody listens on (as wg lists them: one this user cannot open is
 * listed, so that reading it reports why); free with ctl_uapi_list_free.
 */
int ctl_uapi_list(char ***names, size_t *n);
void ctl_uapi_list_free(char **names, size_t n);

#endif
