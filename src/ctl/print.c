// SPDX-License-Identifier: GPL-2.0-or-later
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include "print.h"

/* --- human output ---------------------------------------------------------- */

void ctl_format_duration(char *out, size_t outlen, unsigned long long seconds)
{
	static const struct {
		const char *name;
		unsigned long long seconds;
	} units[] = {
		{ "year", 365ULL * 24 * 60 * 60 },
		{ "day", 24 * 60 * 60 },
		{ "hour", 60 * 60 },
		{ "minute", 60 },
		{ "second", 1 },
	};
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && used < outlen; ++i) {
		unsigned long long n = seconds / units[i].seconds;

		seconds %= units[i].seconds;
		if (n)
			used += (size_t)snprintf(out + used, outlen - used, "%s%llu %s%s",
						 used ? ", " : "", n, units[i].name, n == 1 ? "" : "s");
	}
}

void ctl_format_bytes(char *out, size_t outlen, uint64_t bytes)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double value = (double)bytes / 1024;
	size_t unit = 0;

	if (bytes < 1024) {
		snprintf(out, outlen, "%u B", (unsigned int)bytes);
		return;
	}
	for (uint64_t limit = 1024ULL * 1024; unit < 3 && bytes >= limit; limit *= 1024) {
		value /= 1024;
		++unit;
	}
	snprintf(out, outlen, "%.2f %s", value, units[unit]);
}

static void ago(char *out, size_t outlen, uint64_t when, time_t now)
{
	if ((uint64_t)now == when) {
		snprintf(out, outlen, "Now");
	} else if (now < 0 || (uint64_t)now < when) {
		snprintf(out, outlen, "(System clock wound backward; connection problems may ensue.)");
	} else {
		size_t used;

		ctl_format_duration(out, outlen, (unsigned long long)((uint64_t)now - when));
		used = strlen(out);
		snprintf(out + used, outlen - used, " ago");
	}
}

static const char *key_text(char out[CTL_KEY_BASE64_LEN], const uint8_t key[WG_KEY_LEN],
			    bool show)
{
	return show ? ctl_key_to_base64(out, key) : "(hidden)";
}

static void print_prefixes(FILE *f, const struct ctl_prefix_list *list, const char *separator)
{
	char text[FS_PREFIX_STRLEN];

	for (size_t i = 0; i < list->n; ++i)
		fprintf(f, "%s%s", i ? separator : "", fs_prefix_format(text, &list->items[i]));
}

static void print_endpoints(FILE *f, const struct ctl_endpoint_list *list, const char *separator)
{
	char text[FS_ENDPOINT_STRLEN];

	for (size_t i = 0; i < list->n; ++i)
		fprintf(f, "%s%s", i ? separator : "", fs_endpoint_format(text, &list->items[i]));
}

static void pretty_device_extensions(FILE *f, const struct ctl_device *dev)
{
	if (dev->spread_prefixes.n) {
		fprintf(f, "  spread prefix: ");
		print_prefixes(f, &dev->spread_prefixes, ", ");
		fprintf(f, "\n");
	}
	if (dev->has_spread_mode)
		fprintf(f, "  spread mode: %s\n", dev->spread_mode);
	if (dev->has_spread_ports)
		fprintf(f, "  spread ports: %u-%u\n", dev->spread_ports.low, dev->spread_ports.high);
	if (dev->has_spread_pairs)
		fprintf(f, "  spread pairs: %u\n", dev->spread_pairs);
	if (dev->has_endpoint_limit)
		fprintf(f, "  endpoint limit: %u\n", dev->endpoint_limit);
	if (dev->has_steer)
		fprintf(f, "  steer: %s\n", dev->steer);
	if (dev->has_steer_qdisc)
		fprintf(f, "  steer qdisc: %x:\n", dev->steer_qdisc);
}

static void pretty_state(FILE *f, const struct ctl_endpoint_state *state)
{
	char endpoint[FS_ENDPOINT_STRLEN];

	fprintf(f, "  endpoint state: %s, %s, ", fs_endpoint_format(endpoint, &state->endpoint),
		state->origin);
	if (state->has_age)
		fprintf(f, "age %" PRIu64 " ms, ", state->age_ms);
	else
		fprintf(f, "age -, ");
	if (state->has_rtt)
		fprintf(f, "rtt %" PRIu64 " us, ", state->rtt_us);
	else
		fprintf(f, "rtt -, ");
	fprintf(f, "%s\n", state->state);
}

static void pretty_peer_extensions(FILE *f, const struct ctl_peer *peer)
{
	if (peer->endpoint_alt.n) {
		fprintf(f, "  alt endpoints: ");
		print_endpoints(f, &peer->endpoint_alt, ", ");
		fprintf(f, "\n");
	}
	if (peer->spread_prefixes.n) {
		fprintf(f, "  spread prefix: ");
		print_prefixes(f, &peer->spread_prefixes, ", ");
		fprintf(f, "\n");
	}
	if (peer->has_spread_ports)
		fprintf(f, "  spread ports: %u-%u\n", peer->spread_ports.low, peer->spread_ports.high);
	if (peer->has_endpoint_count)
		fprintf(f, "  endpoint count: %u\n", peer->endpoint_count);
	for (size_t i = 0; i < peer->n_states; ++i)
		pretty_state(f, &peer->states[i]);
}

static void pretty_peer(FILE *f, const struct ctl_peer *peer, time_t now, bool show_keys)
{
	char text[1024], key[CTL_KEY_BASE64_LEN], rx[64], tx[64];

	fprintf(f, "peer: %s\n", ctl_key_to_base64(key, peer->public_key));
	if (peer->has_preshared_key)
		fprintf(f, "  preshared key: %s\n", key_text(key, peer->preshared_key, show_keys));
	if (peer->has_endpoint)
		fprintf(f, "  endpoint: %s\n", fs_endpoint_format(text, &peer->endpoint));
	fprintf(f, "  allowed ips: ");
	if (peer->allowed_ips.n)
		print_prefixes(f, &peer->allowed_ips, ", ");
	else
		fprintf(f, "(none)");
	fprintf(f, "\n");
	if (peer->last_handshake_sec) {
		ago(text, sizeof(text), peer->last_handshake_sec, now);
		fprintf(f, "  latest handshake: %s\n", text);
	}
	if (peer->rx_bytes || peer->tx_bytes) {
		ctl_format_bytes(rx, sizeof(rx), peer->rx_bytes);
		ctl_format_bytes(tx, sizeof(tx), peer->tx_bytes);
		fprintf(f, "  transfer: %s received, %s sent\n", rx, tx);
	}
	if (peer->persistent_keepalive) {
		ctl_format_duration(text, sizeof(text), peer->persistent_keepalive);
		fprintf(f, "  persistent keepalive: every %s\n", text);
	}
	pretty_peer_extensions(f, peer);
	sodium_memzero(key, sizeof(key));
}

struct order {
	const struct ctl_peer *peer;
	size_t index;
};

/* wg's order: latest handshake first, peers without one last, else as the daemon listed them. */
static int order_cmp(const void *first, const void *second)
{
	const struct order *a = first, *b = second;
	bool a_none = !a->peer->last_handshake_sec && !a->peer->last_handshake_nsec;
	bool b_none = !b->peer->last_handshake_sec && !b->peer->last_handshake_nsec;

	if (a_none != b_none)
		return a_none ? 1 : -1;
	if (a->peer->last_handshake_sec != b->peer->last_handshake_sec)
		return a->peer->last_handshake_sec > b->peer->last_handshake_sec ? -1 : 1;
	if (a->peer->last_handshake_nsec != b->peer->last_handshake_nsec)
		return a->peer->last_handshake_nsec > b->peer->last_handshake_nsec ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

void ctl_print_pretty(FILE *f, const struct ctl_device *dev, time_t now, bool show_keys)
{
	char key[CTL_KEY_BASE64_LEN];
	struct order *order;

	fprintf(f, "interface: %s\n", dev->name);
	if (dev->has_public_key)
		fprintf(f, "  public key: %s\n", ctl_key_to_base64(key, dev->public_key));
	if (dev->has_private_key)
		fprintf(f, "  private key: %s\n", key_text(key, dev->private_key, show_keys));
	if (dev->listen_port)
		fprintf(f, "  listening port: %u\n", dev->listen_port);
	if (dev->fwmark)
		fprintf(f, "  fwmark: 0x%x\n", dev->fwmark);
	pretty_device_extensions(f, dev);
	sodium_memzero(key, sizeof(key));
	if (!dev->n_peers)
		return;
	fprintf(f, "\n");
	order = calloc(dev->n_peers, sizeof(*order));
	for (size_t i = 0; order && i < dev->n_peers; ++i)
		order[i] = (struct order){ &dev->peers[i], i };
	if (order)
		qsort(order, dev->n_peers, sizeof(*order), order_cmp);
	for (size_t i = 0; i < dev->n_peers; ++i) {
		pretty_peer(f, order ? order[i].peer : &dev->peers[i], now, show_keys);
		if (i + 1 < dev->n_peers)
			fprintf(f, "\n");
	}
	free(order);
}

/* --- JSON ------------------------------------------------------------------- */

void ctl_json_string(FILE *f, const char *text)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)text; *p; ++p) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

struct json {
	FILE *f;
	int depth;
	bool first;	/* no member written yet at this depth */
};

static void json_member(struct json *j, const char *name)
{
	fprintf(j->f, "%s\n%*s", j->first ? "" : ",", 2 * j->depth, "");
	j->first = false;
	if (name) {
		ctl_json_string(j->f, name);
		fputs(": ", j->f);
	}
}

static void json_open(struct json *j, const char *name, char bracket)
{
	json_member(j, name);
	fputc(bracket, j->f);
	++j->depth;
	j->first = true;
}

static void json_close(struct json *j, char bracket)
{
	--j->depth;
	if (j->first)
		fputc(bracket, j->f);
	else
		fprintf(j->f, "\n%*s%c", 2 * j->depth, "", bracket);
	j->first = false;
}

static void json_str(struct json *j, const char *name, const char *value)
{
	json_member(j, name);
	ctl_json_string(j->f, value);
}

static void json_u64(struct json *j, const char *name, uint64_t value)
{
	json_member(j, name);
	fprintf(j->f, "%" PRIu64, value);
}

static void json_bool(struct json *j, const char *name, bool value)
{
	json_member(j, name);
	fputs(value ? "true" : "false", j->f);
}

static void json_null(struct json *j, const char *name)
{
	json_member(j, name);
	fputs("null", j->f);
}

static void json_key(struct json *j, const char *name, const uint8_t key[WG_KEY_LEN])
{
	char text[CTL_KEY_BASE64_LEN];

	json_str(j, name, ctl_key_to_base64(text, key));
	sodium_memzero(text, sizeof(text));
}

static void json_prefixes(struct json *j, const char *name, const struct ctl_prefix_list *list)
{
	char text[FS_PREFIX_STRLEN];

	json_open(j, name, '[');
	for (size_t i = 0; i < list->n; ++i)
		json_str(j, NULL, fs_prefix_format(text, &list->items[i]));
	json_close(j, ']');
}

static void json_ports(struct json *j, const char *name, const struct fs_port_range *range)
{
	json_open(j, name, '{');
	json_u64(j, "low", range->low);
	json_u64(j, "high", range->high);
	json_close(j, '}');
}

static void json_state(struct json *j, const struct ctl_endpoint_state *state)
{
	char text[FS_ENDPOINT_STRLEN];

	json_open(j, NULL, '{');
	json_str(j, "endpoint", fs_endpoint_format(text, &state->endpoint));
	json_str(j, "origin", state->origin);
	if (state->has_age)
		json_u64(j, "age_ms", state->age_ms);
	else
		json_null(j, "age_ms");
	if (state->has_rtt)
		json_u64(j, "rtt_us", state->rtt_us);
	else
		json_null(j, "rtt_us");
	json_str(j, "state", state->state);
	json_close(j, '}');
}

static void json_peer_extensions(struct json *j, const struct ctl_peer *peer)
{
	char text[FS_ENDPOINT_STRLEN];

	if (peer->endpoint_alt.n) {
		json_open(j, "alt_endpoints", '[');
		for (size_t i = 0; i < peer->endpoint_alt.n; ++i)
			json_str(j, NULL, fs_endpoint_format(text, &peer->endpoint_alt.items[i]));
		json_close(j, ']');
	}
	if (peer->spread_prefixes.n)
		json_prefixes(j, "spread_prefixes", &peer->spread_prefixes);
	if (peer->has_spread_ports)
		json_ports(j, "spread_ports", &peer->spread_ports);
	if (peer->has_endpoint_count)
		json_u64(j, "endpoint_count", peer->endpoint_count);
	if (peer->n_states) {
		json_open(j, "endpoint_states", '[');
		for (size_t i = 0; i < peer->n_states; ++i)
			json_state(j, &peer->states[i]);
		json_close(j, ']');
	}
}

static void json_peer(struct json *j, const struct ctl_peer *peer, bool show_keys)
{
	char text[FS_ENDPOINT_STRLEN];

	json_open(j, NULL, '{');
	json_key(j, "public_key", peer->public_key);
	json_bool(j, "has_preshared_key", peer->has_preshared_key);
	if (peer->has_preshared_key && show_keys)
		json_key(j, "preshared_key", peer->preshared_key);
	if (peer->has_endpoint)
		json_str(j, "endpoint", fs_endpoint_format(text, &peer->endpoint));
	else
		json_null(j, "endpoint");
	json_prefixes(j, "allowed_ips", &peer->allowed_ips);
	json_u64(j, "latest_handshake", peer->last_handshake_sec);
	json_u64(j, "latest_handshake_nsec", peer->last_handshake_nsec);
	json_u64(j, "rx_bytes", peer->rx_bytes);
	json_u64(j, "tx_bytes", peer->tx_bytes);
	json_u64(j, "persistent_keepalive", peer->persistent_keepalive);
	json_peer_extensions(j, peer);
	json_close(j, '}');
}

static void json_device_extensions(struct json *j, const struct ctl_device *dev)
{
	char handle[8];

	if (dev->spread_prefixes.n)
		json_prefixes(j, "spread_prefixes", &dev->spread_prefixes);
	if (dev->has_spread_mode)
		json_str(j, "spread_mode", dev->spread_mode);
	if (dev->has_spread_ports)
		json_ports(j, "spread_ports", &dev->spread_ports);
	if (dev->has_spread_pairs)
		json_u64(j, "spread_pairs", dev->spread_pairs);
	if (dev->has_endpoint_limit)
		json_u64(j, "endpoint_limit", dev->endpoint_limit);
	if (dev->has_steer)
		json_str(j, "steer", dev->steer);
	if (dev->has_steer_qdisc) {
		snprintf(handle, sizeof(handle), "%x:", dev->steer_qdisc);
		json_str(j, "steer_qdisc", handle);
	}
}

void ctl_print_json(FILE *f, const struct ctl_device *dev, bool show_keys, int indent)
{
	struct json j = { .f = f, .depth = indent, .first = true };

	fputc('{', f);
	++j.depth;
	json_str(&j, "name", dev->name);
	if (dev->has_public_key)
		json_key(&j, "public_key", dev->public_key);
	json_bool(&j, "has_private_key", dev->has_private_key);
	if (dev->has_private_key && show_keys)
		json_key(&j, "private_key", dev->private_key);
	json_u64(&j, "listen_port", dev->listen_port);
	json_u64(&j, "fwmark", dev->fwmark);
	json_device_extensions(&j, dev);
	json_open(&j, "peers", '[');
	for (size_t i = 0; i < dev->n_peers; ++i)
		json_peer(&j, &dev->peers[i], show_keys);
	json_close(&j, ']');
	json_close(&j, '}');
}

/* --- showconf --------------------------------------------------------------- */

static void conf_interface(FILE *f, const struct ctl_device *dev)
{
	char key[CTL_KEY_BASE64_LEN];

	fprintf(f, "[Interface]\n");
	if (dev->listen_port)
		fprintf(f, "ListenPort = %u\n", dev->listen_port);
	if (dev->fwmark)
		fprintf(f, "FwMark = 0x%x\n", dev->fwmark);
	if (dev->has_private_key)
		fprintf(f, "PrivateKey = %s\n", ctl_key_to_base64(key, dev->private_key));
	sodium_memzero(key, sizeof(key));
	if (dev->spread_prefixes.n) {
		fprintf(f, "SpreadPrefix = ");
		print_prefixes(f, &dev->spread_prefixes, ", ");
		fprintf(f, "\n");
	}
	if (dev->has_spread_mode)
		fprintf(f, "SpreadMode = %s\n", dev->spread_mode);
	if (dev->has_spread_ports)
		fprintf(f, "SpreadPorts = %u-%u\n", dev->spread_ports.low, dev->spread_ports.high);
	if (dev->has_spread_pairs)
		fprintf(f, "SpreadPairs = %u\n", dev->spread_pairs);
	if (dev->has_endpoint_limit)
		fprintf(f, "EndpointLimit = %u\n", dev->endpoint_limit);
	if (dev->has_steer)
		fprintf(f, "Steer = %s\n", dev->steer);
	if (dev->has_steer_qdisc)
		fprintf(f, "SteerQdisc = %x:\n", dev->steer_qdisc);
}

static void conf_peer(FILE *f, const struct ctl_peer *peer)
{
	char key[CTL_KEY_BASE64_LEN], endpoint[FS_ENDPOINT_STRLEN];

	fprintf(f, "[Peer]\nPublicKey = %s\n", ctl_key_to_base64(key, peer->public_key));
	if (peer->has_preshared_key)
		fprintf(f, "PresharedKey = %s\n", ctl_key_to_base64(key, peer->preshared_key));
	sodium_memzero(key, sizeof(key));
	if (peer->allowed_ips.n) {
		fprintf(f, "AllowedIPs = ");
		print_prefixes(f, &peer->allowed_ips, ", ");
		fprintf(f, "\n");
	}
	if (peer->has_endpoint)
		fprintf(f, "Endpoint = %s\n", fs_endpoint_format(endpoint, &peer->endpoint));
	if (peer->persistent_keepalive)
		fprintf(f, "PersistentKeepalive = %u\n", peer->persistent_keepalive);
	if (peer->endpoint_alt.n) {
		fprintf(f, "AltEndpoint = ");
		print_endpoints(f, &peer->endpoint_alt, ", ");
		fprintf(f, "\n");
	}
	if (peer->spread_prefixes.n) {
		fprintf(f, "SpreadPrefix = ");
		print_prefixes(f, &peer->spread_prefixes, ", ");
		fprintf(f, "\n");
	}
	if (peer->has_spread_ports)
		fprintf(f, "SpreadPorts = %u-%u\n", peer->spread_ports.low, peer->spread_ports.high);
}

void ctl_print_conf(FILE *f, const struct ctl_device *dev)
{
	conf_interface(f, dev);
	fprintf(f, "\n");
	for (size_t i = 0; i < dev->n_peers; ++i) {
		conf_peer(f, &dev->peers[i]);
		if (i + 1 < dev->n_peers)
			fprintf(f, "\n");
	}
}
