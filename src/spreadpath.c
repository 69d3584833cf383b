// SPDX-License-Identifier: GPL-2.0-or-later
/* The return path through our spread addresses or ports (spreadpath.h). */
#include <inttypes.h>
#include <stdio.h>
#include "clock.h"
#include "endpoint.h"
#include "spreadpath.h"

#define NSEC(sec) ((uint64_t)(sec) * FS_NSEC_PER_SEC)

bool fs_spreadpath_trusted(uint64_t proven, uint64_t now)
{
	return proven && now - proven < NSEC(FS_ENDPOINT_TRUST_WINDOW_SEC);
}

/* A failure: the path is not used until a later probe proves it again. */
static void fail(struct fs_spreadpath *p, enum fs_spreadpath_reason reason, uint64_t evidence,
		 uint64_t proof, uint64_t now)
{
	uint32_t backoff = p->backoff_sec ? p->backoff_sec : FS_SPREADPATH_BACKOFF_MIN_SEC;

	p->state = FS_SPREADPATH_FAILED;
	p->reason = reason;
	p->since = now;
	p->evidence = evidence;
	p->proof = proof;
	p->probe_sent = 0;
	p->next_probe = now + NSEC(backoff);
	p->backoff_sec = backoff * 2 < FS_SPREADPATH_BACKOFF_MAX_SEC ?
			 backoff * 2 : FS_SPREADPATH_BACKOFF_MAX_SEC;
	++p->failures;
	p->unreported = true;
}

static enum fs_spreadpath_verdict prove(struct fs_spreadpath *p, uint64_t now)
{
	/* "logged" is cleared at each proof: set, a failure was logged since the last one. */
	bool recovered = p->state != FS_SPREADPATH_PROVEN && p->logged;

	if (p->state != FS_SPREADPATH_PROVEN) {
		p->state = FS_SPREADPATH_PROVEN;
		p->since = now;
		/* The path worked again: its next failure is news, logged at once. */
		p->logged = 0;
	}
	p->probe_sent = 0;
	p->next_probe = 0;
	p->backoff_sec = 0;
	p->unreported = false;
	return recovered ? FS_SPREADPATH_LOG_RECOVERY : FS_SPREADPATH_QUIET;
}

enum fs_spreadpath_verdict fs_spreadpath_update(struct fs_spreadpath *p, uint64_t proven,
						uint64_t plain, uint64_t used, uint64_t now,
						uint64_t *suppressed)
{
	if (fs_spreadpath_trusted(proven, now))
		return prove(p, now);
	if (p->state == FS_SPREADPATH_PROVEN) {
		/* The proof lapsed: a failure only if the peer still talks to us. */
		if (plain > proven && used > proven) {
			fail(p, FS_SPREADPATH_ANSWERS_STOPPED, proven, proven, now);
		} else {
			p->state = FS_SPREADPATH_UNPROVEN;
			p->since = now;
			p->next_probe = now;
		}
	} else if (p->state == FS_SPREADPATH_PROBING &&
		   now - p->probe_sent >= NSEC(FS_SPREADPATH_PROBE_TIMEOUT_SEC)) {
		fail(p, FS_SPREADPATH_PROBE_UNANSWERED, p->probe_sent, proven, now);
	}
	if (p->state != FS_SPREADPATH_FAILED || !p->unreported || plain <= p->evidence)
		return FS_SPREADPATH_QUIET;
	p->unreported = false;
	if (p->logged && now - p->logged < NSEC(FS_SPREADPATH_LOG_INTERVAL_SEC)) {
		++p->suppressed;
		return FS_SPREADPATH_QUIET;
	}
	*suppressed = p->suppressed;
	p->suppressed = 0;
	p->logged = now;
	return FS_SPREADPATH_LOG_FAILURE;
}

bool fs_spreadpath_may_probe(const struct fs_spreadpath *p, uint64_t proven, uint64_t now)
{
	return !fs_spreadpath_trusted(proven, now) && p->state != FS_SPREADPATH_PROBING &&
	       now >= p->next_probe;
}

void fs_spreadpath_probe_sent(struct fs_spreadpath *p, uint64_t now)
{
	p->state = FS_SPREADPATH_PROBING;
	p->since = now;
	p->probe_sent = now;
}

bool fs_spreadpath_revoke(struct fs_spreadpath *p, uint64_t proven, uint64_t now)
{
	if (p->state != FS_SPREADPATH_PROVEN || !proven)
		return false;
	/* Nothing at all came back: any later plain receive shows the peer alive. */
	fail(p, FS_SPREADPATH_ANSWERS_STOPPED, now, proven, now);
	return true;
}

uint64_t fs_spreadpath_next_check(const struct fs_spreadpath *p)
{
	if (p->state == FS_SPREADPATH_PROBING)
		return p->probe_sent + NSEC(FS_SPREADPATH_PROBE_TIMEOUT_SEC);
	return p->next_probe;
}

const char *fs_spreadpath_state_name(enum fs_spreadpath_state state)
{
	switch (state) {
	case FS_SPREADPATH_PROBING:
		return "probing";
	case FS_SPREADPATH_PROVEN:
		return "proven";
	case FS_SPREADPATH_FAILED:
		return "failed";
	default:
		return "unproven";
	}
}

const char *fs_spreadpath_reason_name(enum fs_spreadpath_reason reason)
{
	switch (reason) {
	case FS_SPREADPATH_PROBE_UNANSWERED:
		return "probe_unanswered";
	case FS_SPREADPATH_ANSWERS_STOPPED:
		return "answers_stopped";
	default:
		return "-";
	}
}

void fs_spreadpath_format(const struct fs_spreadpath *p, uint64_t proven, uint64_t now,
			  char out[FS_SPREADPATH_STATE_STRLEN])
{
	enum fs_spreadpath_state state = p->state;
	uint64_t from = p->since;
	char age[24] = "-";

	/* What the datapath does now, even if the control thread has not looked yet. */
	if (fs_spreadpath_trusted(proven, now))
		state = FS_SPREADPATH_PROVEN;
	else if (state == FS_SPREADPATH_PROVEN)
		state = FS_SPREADPATH_UNPROVEN;
	if (state == FS_SPREADPATH_PROVEN || state == FS_SPREADPATH_UNPROVEN)
		from = proven;
	if (from)
		snprintf(age, sizeof(age), "%" PRIu64, now > from ? (now - from) / FS_NSEC_PER_MSEC : 0);
	snprintf(out, FS_SPREADPATH_STATE_STRLEN, "%s,%s,%" PRIu64 ",%s",
		 fs_spreadpath_state_name(state), age, p->failures,
		 fs_spreadpath_reason_name(p->failures ? p->reason : FS_SPREADPATH_NO_REASON));
}
