/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Config files in wg-quick's INI format, as `wg setconf` reads them, plus
 * flowspread's extension keys (flowspreadd(8)):
 *
 *   [Interface]  PrivateKey ListenPort FwMark
 *                SpreadPrefix SpreadMode SpreadPorts SpreadPairs
 *                EndpointLimit Steer SteerQdisc
 *   [Peer]       PublicKey PresharedKey AllowedIPs Endpoint PersistentKeepalive
 *                AltEndpoint SpreadPrefix SpreadPorts
 *
 * As wg does: '#' starts a comment, all white space in a line is dropped,
 * keys and section names are matched without regard to case, the last of
 * a repeated single-valued key wins, AllowedIPs (and AltEndpoint,
 * SpreadPrefix) take comma lists and add up over repeated lines, each
 * [Peer] replaces its allowed IPs, and unknown keys are errors. wg-quick's
 * own keys (Address, DNS, MTU, Table, Pre/PostUp, Pre/PostDown,
 * SaveConfig) are refused with a pointer to `wg-quick strip`.
 *
 * Not appending (setconf, syncconf) sets the private key, listen port and
 * fwmark (to zero when the file has none) and replace_peers, as wg does;
 * appending (addconf) sends only what the file says.
 */
#ifndef FLOWSPREAD_CTL_CONF_H
#define FLOWSPREAD_CTL_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include "containers.h"

/*
 * Parses len bytes of text (the file named filename, used in messages)
 * into the empty *dev. False with err set to
 * "config file FILE line N: WHAT" on the first error.
 */
bool ctl_conf_parse(struct ctl_device *dev, const char *text, size_t len, const char *filename,
		    bool append, char *err, size_t errlen);

/* Reads a whole file into a NUL-terminated buffer (wiped and freed by the caller). */
bool ctl_conf_read_file(char **text, size_t *len, const char *path, char *err, size_t errlen);

#endif
