/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The values a user writes, in a config file or on the command line, and
 * where each goes in a struct ctl_device. Both front ends name a field and
 * hand over its text; the label is how the user wrote the key ("AllowedIPs"
 * or "allowed-ips"), so every message reads
 *   LABEL "VALUE": expected WHAT
 * and the caller puts the place (file and line, or "set") in front.
 * Secret values (private and preshared keys) are never echoed.
 */
#ifndef FLOWSPREAD_CTL_PARSE_H
#define FLOWSPREAD_CTL_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include "containers.h"

enum ctl_field {
	/* [Interface] */
	CTL_F_PRIVATE_KEY,
	CTL_F_LISTEN_PORT,
	CTL_F_FWMARK,
	CTL_F_SPREAD_PREFIX,
	CTL_F_SPREAD_MODE,
	CTL_F_SPREAD_PORTS,
	CTL_F_SPREAD_PAIRS,
	CTL_F_ENDPOINT_LIMIT,
	CTL_F_STEER,
	CTL_F_STEER_QDISC,
	/* [Peer] */
	CTL_F_PUBLIC_KEY,
	CTL_F_PRESHARED_KEY,
	CTL_F_ENDPOINT,
	CTL_F_PERSISTENT_KEEPALIVE,
	CTL_F_ALLOWED_IPS,
	CTL_F_ALT_ENDPOINT,
	CTL_F_PEER_SPREAD_PREFIX,
	CTL_F_PEER_SPREAD_PORTS,
};

/*
 * Device fields; value is the text without spaces. An empty value of an
 * extension field sets it back to its default (a list: empties it, and
 * the items given after replace it whole); of other fields, an error.
 */
bool ctl_device_apply(struct ctl_device *dev, enum ctl_field field, const char *label,
		      const char *value, char *err, size_t errlen);
/* Peer fields; AllowedIPs, AltEndpoint and SpreadPrefix take comma lists and add up. */
bool ctl_peer_apply(struct ctl_peer *peer, enum ctl_field field, const char *label,
		    const char *value, char *err, size_t errlen);

bool ctl_parse_key(uint8_t key[WG_KEY_LEN], const char *label, const char *value, bool secret,
		   char *err, size_t errlen);
/* "HOST:PORT" or "[HOST]:PORT", names resolved with getaddrinfo as wg does
 * (retrying transient failures WG_ENDPOINT_RESOLUTION_RETRIES times, 15 by default). */
bool ctl_parse_endpoint(union fs_sockaddr *out, const char *label, const char *value, char *err,
			size_t errlen);
/* ADDR[/LEN]; without LEN the whole address (as wg's AllowedIPs). */
bool ctl_parse_allowed_ip(struct fs_prefix *out, const char *label, const char *value, char *err,
			  size_t errlen);
/* A key file as wg reads it: 44 base64 characters and trailing space, or empty (all zero). */
bool ctl_read_key_file(uint8_t key[WG_KEY_LEN], const char *label, const char *path, char *err,
		       size_t errlen);

/* "LOW-HIGH" with 1 <= LOW <= HIGH, and a qdisc handle "MAJOR:" (hex, nonzero). */
bool ctl_port_range_from_text(struct fs_port_range *out, const char *text);
bool ctl_qdisc_from_text(uint16_t *major, const char *text);

/* Canonical names, as flowspreadctl prints and sends them; NULL when unknown. */
const char *ctl_spread_mode_canonical(const char *value);
const char *ctl_steer_canonical(const char *value);

#endif
