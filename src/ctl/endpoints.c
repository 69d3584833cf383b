// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * endpoints IFNAME [PEER] [--json]: each peer's bounded endpoint table
 * (docs/spreading.md), from the endpoint_count= and endpoint_state= lines
 * of a get answer, as a table a person reads: one line per entry with its
 * address, origin, last authenticated receive, handshake round trip and
 * state, the current endpoint marked "*". The current endpoint is the
 * peer's endpoint= line: the daemon sends data there. When two entries
 * share that address (possible only briefly, after a reconfiguration)
 * the first in table order is marked.
 *
 * Peers come in the daemon's order, not wg show's latest-handshake order:
 * the table is about where a peer is, not when it last spoke. A daemon
 * that reports no table (wireguard-go) gets a line saying so.
 *
 * The spread_source= lines say, per kind of our spread sources (addresses,
 * ports), whether the daemon sends from them: only while the peer answers
 * through them (docs/spreading.md, section 2.5); one line each, after the
 * table.
 *
 * A malformed endpoint_state or spread_source line makes the whole get answer invalid, as
 * any malformed known key does (ipc.h): endpoints prints nothing and fails
 * with show's message naming the line.
 */
#include <inttypes.h>
#include <string.h>
#include "parse.h"
#include "print.h"
#include "subcommands.h"
#include "ipc.h"
#include "util.h"

enum {
	AGE_LEN = 128,		/* "N years, N days, ... ago" */
	RTT_LEN = 32,
};

void ctl_endpoints_usage(FILE *f, const char *name)
{
	fprintf(f, "Usage: %s %s <interface> [<base64 public key>] [--json]\n", PROG_NAME, name);
}

/* "never", "120 ms ago", "3.2 s ago" (truncated), then wg's "1 minute, 5 seconds ago". */
static void format_age(char out[AGE_LEN], const struct ctl_endpoint_state *state)
{
	size_t used;

	if (!state->has_age) {
		snprintf(out, AGE_LEN, "never");
	} else if (state->age_ms < 1000) {
		snprintf(out, AGE_LEN, "%" PRIu64 " ms ago", state->age_ms);
	} else if (state->age_ms < 60000) {
		snprintf(out, AGE_LEN, "%" PRIu64 ".%" PRIu64 " s ago", state->age_ms / 1000,
			 state->age_ms / 100 % 10);
	} else {
		ctl_format_duration(out, AGE_LEN, state->age_ms / 1000);
		used = strlen(out);
		snprintf(out + used, AGE_LEN - used, " ago");
	}
}

/* "-", "850 us", "3.50 ms" (truncated to 10 us). */
static void format_rtt(char out[RTT_LEN], const struct ctl_endpoint_state *state)
{
	if (!state->has_rtt)
		snprintf(out, RTT_LEN, "-");
	else if (state->rtt_us < 1000)
		snprintf(out, RTT_LEN, "%" PRIu64 " us", state->rtt_us);
	else
		snprintf(out, RTT_LEN, "%" PRIu64 ".%02" PRIu64 " ms", state->rtt_us / 1000,
			 state->rtt_us / 10 % 100);
}

/* "-" or a number, as the daemon writes an age. */
static bool parse_age(bool *has, uint64_t *out, const char *text)
{
	*has = false;
	if (!strcmp(text, "-"))
		return true;
	*has = ctl_parse_u64(out, text, UINT64_MAX);
	return *has;
}

static bool copy_word(char out[CTL_WORD_LEN], const char *text)
{
	if (!*text || strlen(text) >= CTL_WORD_LEN)
		return false;
	strcpy(out, text);
	return true;
}

bool ctl_peer_add_spread_source(struct ctl_peer *peer, const char *value)
{
	char copy[5 * CTL_WORD_LEN + 64], *fields[5], *rest = copy;
	struct ctl_spread_source source;
	size_t i;

	memset(&source, 0, sizeof(source));
	if (strlen(value) >= sizeof(copy))
		return false;
	strcpy(copy, value);
	for (i = 0; i < 5 && rest; ++i)
		fields[i] = strsep(&rest, ",");
	if (i < 5 || rest || !copy_word(source.kind, fields[0]) ||
	    !copy_word(source.state, fields[1]) ||
	    !parse_age(&source.has_age, &source.age_ms, fields[2]) ||
	    !ctl_parse_u64(&source.failures, fields[3], UINT64_MAX) ||
	    !copy_word(source.reason, fields[4]))
		return false;
	/* Kinds this tool does not know of, past the ones it keeps, are skipped. */
	if (peer->n_spread_sources < CTL_SPREAD_SOURCES_MAX)
		peer->spread_sources[peer->n_spread_sources++] = source;
	return true;
}

/* "on: answers through them 0.4 s ago", "off: ...": what the daemon does and why. */
static void pretty_spread_source(FILE *f, const struct ctl_spread_source *source)
{
	struct ctl_endpoint_state age_of = { .has_age = source->has_age, .age_ms = source->age_ms };
	char age[AGE_LEN], failures[48] = "";

	format_age(age, &age_of);
	if (source->failures)
		snprintf(failures, sizeof(failures), "; %" PRIu64 " failure%s", source->failures,
			 source->failures == 1 ? "" : "s");
	fprintf(f, "  source spreading (%s): ", source->kind);
	if (!strcmp(source->state, "proven"))
		fprintf(f, "on (answers through them %s%s)\n", age, failures);
	else if (!strcmp(source->state, "probing"))
		fprintf(f, "off: probing (a handshake sent through them %s%s)\n", age, failures);
	else if (!strcmp(source->state, "failed") && !strcmp(source->reason, "probe_unanswered"))
		fprintf(f, "off: a handshake sent through them got no answer (%s%s)\n", age, failures);
	else if (!strcmp(source->state, "failed"))
		fprintf(f, "off: nothing came back through them (%s%s)\n", age, failures);
	else if (source->has_age)
		fprintf(f, "off: the last answer through them came %s%s\n", age, failures);
	else
		fprintf(f, "off: not proven yet (no answer through them so far%s)\n", failures);
}

/* The index of the entry that is the peer's current endpoint, or n_states if none is. */
static size_t current_entry(const struct ctl_peer *peer)
{
	size_t i;

	if (!peer->has_endpoint)
		return peer->n_states;
	for (i = 0; i < peer->n_states; ++i)
		if (fs_endpoint_equal(&peer->states[i].endpoint, &peer->endpoint))
			break;
	return i;
}

static size_t max_len(size_t len, const char *text)
{
	size_t n = strlen(text);

	return n > len ? n : len;
}

static void pretty_table(FILE *f, const struct ctl_peer *peer)
{
	static const char *const heading[] = { "address", "origin", "last received", "rtt" };
	size_t width[4], current = current_entry(peer);
	char addr[FS_ENDPOINT_STRLEN], age[AGE_LEN], rtt[RTT_LEN];

	for (size_t c = 0; c < 4; ++c)
		width[c] = strlen(heading[c]);
	for (size_t i = 0; i < peer->n_states; ++i) {
		const struct ctl_endpoint_state *state = &peer->states[i];

		format_age(age, state);
		format_rtt(rtt, state);
		width[0] = max_len(width[0], fs_endpoint_format(addr, &state->endpoint));
		width[1] = max_len(width[1], state->origin);
		width[2] = max_len(width[2], age);
		width[3] = max_len(width[3], rtt);
	}
	fprintf(f, "    %-*s  %-*s  %-*s  %-*s  state\n", (int)width[0], heading[0],
		(int)width[1], heading[1], (int)width[2], heading[2], (int)width[3], heading[3]);
	for (size_t i = 0; i < peer->n_states; ++i) {
		const struct ctl_endpoint_state *state = &peer->states[i];

		format_age(age, state);
		format_rtt(rtt, state);
		fprintf(f, "  %c %-*s  %-*s  %-*s  %-*s  %s\n", i == current ? '*' : ' ',
			(int)width[0], fs_endpoint_format(addr, &state->endpoint),
			(int)width[1], state->origin, (int)width[2], age, (int)width[3], rtt,
			state->state);
	}
}

static void pretty_peer(FILE *f, const struct ctl_peer *peer)
{
	char key[CTL_KEY_BASE64_LEN], addr[FS_ENDPOINT_STRLEN];

	fprintf(f, "peer: %s\n", ctl_key_to_base64(key, peer->public_key));
	if (peer->has_endpoint)
		fprintf(f, "  endpoint: %s\n", fs_endpoint_format(addr, &peer->endpoint));
	else
		fprintf(f, "  endpoint: (none)\n");
	if (!peer->has_endpoint_count && !peer->n_states) {
		fprintf(f, "  endpoint table: not reported (the daemon is not flowspreadd?)\n");
		return;
	}
	if (peer->has_endpoint_count)
		fprintf(f, "  endpoint count: %" PRIu32 "\n", peer->endpoint_count);
	if (peer->n_states)
		pretty_table(f, peer);
	for (size_t i = 0; i < peer->n_spread_sources; ++i)
		pretty_spread_source(f, &peer->spread_sources[i]);
}

/* --- JSON: the layout and field names of show --json --------------------- */

/* ",\n<indent>"NAME": VALUE", or null without one. */
static void json_optional(FILE *f, const char *name, bool has, uint64_t value)
{
	if (has)
		fprintf(f, ",\n          \"%s\": %" PRIu64, name, value);
	else
		fprintf(f, ",\n          \"%s\": null", name);
}

static void json_state(FILE *f, const struct ctl_endpoint_state *state, bool current)
{
	char addr[FS_ENDPOINT_STRLEN];

	fprintf(f, "\n        {\n          \"endpoint\": ");
	ctl_json_string(f, fs_endpoint_format(addr, &state->endpoint));
	fprintf(f, ",\n          \"origin\": ");
	ctl_json_string(f, state->origin);
	json_optional(f, "age_ms", state->has_age, state->age_ms);
	json_optional(f, "rtt_us", state->has_rtt, state->rtt_us);
	fprintf(f, ",\n          \"state\": ");
	ctl_json_string(f, state->state);
	fprintf(f, ",\n          \"current\": %s\n        }", current ? "true" : "false");
}

static void json_spread_source(FILE *f, const struct ctl_spread_source *source)
{
	fprintf(f, "\n        {\n          \"kind\": ");
	ctl_json_string(f, source->kind);
	fprintf(f, ",\n          \"state\": ");
	ctl_json_string(f, source->state);
	json_optional(f, "age_ms", source->has_age, source->age_ms);
	fprintf(f, ",\n          \"failures\": %" PRIu64 ",\n          \"reason\": ", source->failures);
	if (strcmp(source->reason, "-"))
		ctl_json_string(f, source->reason);
	else
		fprintf(f, "null");
	fprintf(f, "\n        }");
}

static void json_peer(FILE *f, const struct ctl_peer *peer)
{
	char key[CTL_KEY_BASE64_LEN], addr[FS_ENDPOINT_STRLEN];
	size_t current = current_entry(peer);

	fprintf(f, "\n    {\n      \"public_key\": ");
	ctl_json_string(f, ctl_key_to_base64(key, peer->public_key));
	fprintf(f, ",\n      \"endpoint\": ");
	if (peer->has_endpoint)
		ctl_json_string(f, fs_endpoint_format(addr, &peer->endpoint));
	else
		fprintf(f, "null");
	if (peer->has_endpoint_count)
		fprintf(f, ",\n      \"endpoint_count\": %" PRIu32, peer->endpoint_count);
	fprintf(f, ",\n      \"endpoint_states\": [");
	for (size_t i = 0; i < peer->n_states; ++i) {
		if (i)
			fputc(',', f);
		json_state(f, &peer->states[i], i == current);
	}
	fprintf(f, peer->n_states ? "\n      ]" : "]");
	if (peer->n_spread_sources) {
		fprintf(f, ",\n      \"spread_sources\": [");
		for (size_t i = 0; i < peer->n_spread_sources; ++i) {
			if (i)
				fputc(',', f);
			json_spread_source(f, &peer->spread_sources[i]);
		}
		fprintf(f, "\n      ]");
	}
	fprintf(f, "\n    }");
}

enum ctl_status ctl_endpoints_print(FILE *f, const struct ctl_device *dev,
				    const uint8_t *peer_key, bool json, char *err, size_t errlen)
{
	const struct ctl_peer *only = NULL;
	char key[CTL_KEY_BASE64_LEN];
	size_t shown = 0;

	if (peer_key) {
		only = ctl_device_find_peer(dev, peer_key);
		if (!only)
			return ctl_fail(err, errlen, "interface %s has no peer %s", dev->name,
					ctl_key_to_base64(key, peer_key)), CTL_FAIL;
	}
	if (json) {
		fprintf(f, "{\n  \"name\": ");
		ctl_json_string(f, dev->name);
		fprintf(f, ",\n  \"peers\": [");
	} else {
		fprintf(f, "interface: %s\n", dev->name);
	}
	for (size_t i = 0; i < dev->n_peers; ++i) {
		const struct ctl_peer *peer = &dev->peers[i];

		if (only && peer != only)
			continue;
		if (json) {
			if (shown)
				fputc(',', f);
			json_peer(f, peer);
		} else {
			fprintf(f, "\n");
			pretty_peer(f, peer);
		}
		++shown;
	}
	if (json)
		fprintf(f, shown ? "\n  ]\n}\n" : "]\n}\n");
	return CTL_OK;
}

int ctl_endpoints_main(int argc, char *argv[])
{
	uint8_t key[WG_KEY_LEN], *peer_key = NULL;
	const char *ifname = NULL, *peer = NULL;
	char err[CTL_ERRLEN];
	struct ctl_device dev;
	enum ctl_status status;
	bool json = false;

	for (int i = 1; i < argc; ++i) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			ctl_endpoints_usage(stdout, argv[0]);
			return CTL_OK;
		} else if (!ifname) {
			ifname = argv[i];
		} else if (!peer) {
			peer = argv[i];
		} else {
			fprintf(stderr, PROG_NAME ": %s: unexpected argument \"%s\"\n", argv[0],
				argv[i]);
			ctl_endpoints_usage(stderr, argv[0]);
			return CTL_USAGE;
		}
	}
	if (!ifname) {
		ctl_endpoints_usage(stderr, argv[0]);
		return CTL_USAGE;
	}
	/* A mistyped key is reported without asking the daemon. */
	if (peer) {
		if (!ctl_parse_key(key, "peer", peer, false, err, sizeof(err))) {
			ctl_error(err);
			return CTL_FAIL;
		}
		peer_key = key;
	}
	ctl_device_init(&dev);
	status = CTL_FAIL;
	if (ctl_uapi_get(&dev, ifname, err, sizeof(err)) == 0)
		status = ctl_endpoints_print(stdout, &dev, peer_key, json, err, sizeof(err));
	if (status != CTL_OK)
		ctl_error(err);
	ctl_device_free(&dev);
	return status;
}
