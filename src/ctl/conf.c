// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "conf.h"
#include "parse.h"
#include "util.h"

struct key {
	const char *name;
	enum ctl_field field;
};

static const struct key interface_keys[] = {
	{ "PrivateKey", CTL_F_PRIVATE_KEY },
	{ "ListenPort", CTL_F_LISTEN_PORT },
	{ "FwMark", CTL_F_FWMARK },
	{ "SpreadPrefix", CTL_F_SPREAD_PREFIX },
	{ "SpreadMode", CTL_F_SPREAD_MODE },
	{ "SpreadPorts", CTL_F_SPREAD_PORTS },
	{ "SpreadPairs", CTL_F_SPREAD_PAIRS },
	{ "EndpointLimit", CTL_F_ENDPOINT_LIMIT },
	{ "Steer", CTL_F_STEER },
	{ "SteerQdisc", CTL_F_STEER_QDISC },
	{ NULL, 0 }
};

static const struct key peer_keys[] = {
	{ "PublicKey", CTL_F_PUBLIC_KEY },
	{ "PresharedKey", CTL_F_PRESHARED_KEY },
	{ "AllowedIPs", CTL_F_ALLOWED_IPS },
	{ "Endpoint", CTL_F_ENDPOINT },
	{ "PersistentKeepalive", CTL_F_PERSISTENT_KEEPALIVE },
	{ "AltEndpoint", CTL_F_ALT_ENDPOINT },
	{ "SpreadPrefix", CTL_F_PEER_SPREAD_PREFIX },
	{ "SpreadPorts", CTL_F_PEER_SPREAD_PORTS },
	{ NULL, 0 }
};

static const char *const wg_quick_keys[] = {
	"Address", "DNS", "MTU", "Table", "PreUp", "PostUp", "PreDown", "PostDown", "SaveConfig",
	NULL
};

enum section { NO_SECTION, INTERFACE, PEER };

struct parser {
	struct ctl_device *dev;
	enum section section;
	size_t peer;			/* index of the current peer */
	bool peer_has_key;
	unsigned int peer_line;		/* where the current [Peer] began */
	char *err;
	size_t errlen;
};

static const struct key *find_key(const struct key *keys, const char *name)
{
	for (; keys->name; ++keys)
		if (!strcasecmp(keys->name, name))
			return keys;
	return NULL;
}

static bool is_wg_quick_key(const char *name)
{
	for (const char *const *k = wg_quick_keys; *k; ++k)
		if (!strcasecmp(*k, name))
			return true;
	return false;
}

static void list_keys(char *out, size_t outlen, const struct key *keys)
{
	size_t used = 0;

	out[0] = '\0';
	for (; keys->name && used < outlen; ++keys)
		used += (size_t)snprintf(out + used, outlen - used, "%s%s", used ? ", " : "",
					 keys->name);
}

/* The last [Peer] needs a PublicKey before another section or the end. */
static bool finish_peer(struct parser *p)
{
	if (p->section == PEER && !p->peer_has_key)
		return ctl_fail(p->err, p->errlen, "line %u: [Peer] has no PublicKey", p->peer_line);
	return true;
}

static bool begin_section(struct parser *p, const char *line, unsigned int lineno)
{
	char q[CTL_QUOTE_LEN];
	struct ctl_peer *peer;

	if (!finish_peer(p))
		return false;
	if (!strcasecmp(line, "[Interface]")) {
		p->section = INTERFACE;
		return true;
	}
	if (strcasecmp(line, "[Peer]"))
		return ctl_fail(p->err, p->errlen, "line %u: section %s: expected [Interface] or [Peer]",
				lineno, ctl_quote(q, line));
	peer = ctl_device_add_peer(p->dev);
	if (!peer)
		return ctl_fail(p->err, p->errlen, "line %u: out of memory", lineno);
	peer->replace_allowed_ips = true;
	p->peer = p->dev->n_peers - 1;
	p->peer_has_key = false;
	p->peer_line = lineno;
	p->section = PEER;
	return true;
}

static bool key_value(struct parser *p, char *line, unsigned int lineno)
{
	char *value = strchr(line, '='), q[CTL_QUOTE_LEN], keys[256];
	const struct key *key;
	bool ok;

	if (!value)
		return ctl_fail(p->err, p->errlen,
				"line %u: %s: expected KEY = VALUE, [Interface] or [Peer]", lineno,
				ctl_quote(q, line));
	*value++ = '\0';
	if (p->section == NO_SECTION)
		return ctl_fail(p->err, p->errlen,
				"line %u: %s comes before any [Interface] or [Peer] section", lineno,
				ctl_quote(q, line));
	key = find_key(p->section == INTERFACE ? interface_keys : peer_keys, line);
	if (!key) {
		if (p->section == INTERFACE && is_wg_quick_key(line))
			return ctl_fail(p->err, p->errlen,
					"line %u: %s is a wg-quick key, which setconf does not take "
					"(as with wg setconf): drop wg-quick keys with "
					"\"wg-quick strip FILE\" first",
					lineno, line);
		list_keys(keys, sizeof(keys), p->section == INTERFACE ? interface_keys : peer_keys);
		return ctl_fail(p->err, p->errlen, "line %u: unknown key %s in [%s]: expected one of %s",
				lineno, ctl_quote(q, line), p->section == INTERFACE ? "Interface" : "Peer",
				keys);
	}
	if (!*value)
		return ctl_fail(p->err, p->errlen, "line %u: %s has no value", lineno, key->name);
	if (p->section == INTERFACE)
		ok = ctl_device_apply(p->dev, key->field, key->name, value, p->err, p->errlen);
	else
		ok = ctl_peer_apply(&p->dev->peers[p->peer], key->field, key->name, value, p->err,
				    p->errlen);
	if (!ok) {
		ctl_err_prefix(p->err, p->errlen, "line %u: ", lineno);
		return false;
	}
	if (key->field == CTL_F_PUBLIC_KEY)
		p->peer_has_key = true;
	return true;
}

/* A line without its comment and white space, as wg's config_read_line makes it. */
static char *clean_line(const char *start, size_t len)
{
	const char *comment = memchr(start, '#', len);
	size_t n = 0;
	char *line;

	if (comment)
		len = (size_t)(comment - start);
	line = malloc(len + 1);
	if (!line)
		return NULL;
	for (size_t i = 0; i < len; ++i)
		if (!strchr(" \t\n\v\f\r", start[i]))
			line[n++] = start[i];
	line[n] = '\0';
	return line;
}

static bool parse_lines(struct parser *p, const char *text, size_t len)
{
	unsigned int lineno = 0;
	const char *start = text, *end = text + len;

	while (start < end) {
		const char *nl = memchr(start, '\n', (size_t)(end - start));
		size_t line_len = nl ? (size_t)(nl - start) : (size_t)(end - start);
		char *line;
		bool ok = true;

		++lineno;
		if (memchr(start, '\0', line_len))
			return ctl_fail(p->err, p->errlen, "line %u: contains a NUL byte: expected text",
					lineno);
		line = clean_line(start, line_len);
		if (!line)
			return ctl_fail(p->err, p->errlen, "line %u: out of memory", lineno);
		if (line[0] == '[')
			ok = begin_section(p, line, lineno);
		else if (line[0])
			ok = key_value(p, line, lineno);
		sodium_memzero(line, strlen(line));
		free(line);
		if (!ok)
			return false;
		start += line_len + 1;
	}
	return finish_peer(p);
}

bool ctl_conf_parse(struct ctl_device *dev, const char *text, size_t len, const char *filename,
		    bool append, char *err, size_t errlen)
{
	struct parser p = { .dev = dev, .err = err, .errlen = errlen };

	if (!append)
		dev->has_private_key = dev->has_listen_port = dev->has_fwmark = dev->replace_peers = true;
	if (!parse_lines(&p, text, len)) {
		ctl_err_prefix(err, errlen, "config file %s ", filename);
		return false;
	}
	/*
	 * wg addconf replaces a peer's allowed IPs even when its section names
	 * none. flowspreadctl addconf keeps them then, so that a [Peer]
	 * section carrying only extension keys (applied from wg-quick's
	 * PostUp) does not leave the peer without allowed IPs.
	 */
	if (append)
		for (size_t i = 0; i < dev->n_peers; ++i)
			if (!dev->peers[i].allowed_ips.n)
				dev->peers[i].replace_allowed_ips = false;
	return true;
}

bool ctl_conf_read_file(char **text, size_t *len, const char *path, char *err, size_t errlen)
{
	char q[CTL_QUOTE_LEN];
	struct ctl_buf buf;
	char chunk[4096];
	size_t n;
	FILE *f;

	f = fopen(path, "r");
	if (!f)
		return ctl_fail(err, errlen, "config file %s: %s", ctl_quote(q, path), strerror(errno));
	ctl_buf_init(&buf);
	ctl_buf_append(&buf, "", 0);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		ctl_buf_append(&buf, chunk, n);
	sodium_memzero(chunk, sizeof(chunk));
	if (ferror(f) || buf.failed) {
		ctl_fail(err, errlen, "config file %s: %s", ctl_quote(q, path),
			 buf.failed ? "out of memory" : strerror(errno));
		fclose(f);
		ctl_buf_free(&buf);
		return false;
	}
	fclose(f);
	*text = buf.data;
	*len = buf.len;
	return true;
}
