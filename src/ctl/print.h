/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What show and showconf print, as pure functions of a struct ctl_device
 * (and the time, for "latest handshake"), so the unit tests can compare
 * whole outputs.
 *
 * Human output (ctl_print_pretty) is `wg show`'s, line for line, without
 * colours, followed in each block by the extension lines the daemon
 * reported:
 *   interface: spread prefix, spread mode, spread ports, spread pairs,
 *              endpoint limit, steer, steer qdisc
 *   peer:      alt endpoints, spread prefix, spread ports, endpoint count,
 *              and one "endpoint state: ADDR:PORT, ORIGIN, age N ms,
 *              rtt N us, STATE" line per endpoint_state
 *
 * JSON (ctl_print_json), one object per interface; field names are stable:
 *   name, public_key (absent without a private key), has_private_key,
 *   private_key (only with WG_HIDE_KEYS=never), listen_port, fwmark,
 *   peers: [ { public_key, has_preshared_key, preshared_key (only with
 *     WG_HIDE_KEYS=never), endpoint (string or null), allowed_ips [],
 *     latest_handshake (Unix seconds, 0 = never), latest_handshake_nsec,
 *     rx_bytes, tx_bytes, persistent_keepalive (seconds, 0 = off), and
 *     when reported: alt_endpoints [], spread_prefixes [], spread_ports
 *     {low, high}, endpoint_count, endpoint_states [ { endpoint, origin,
 *     age_ms, rtt_us (numbers, or null when unknown), state } ] } ]
 *   and when reported: spread_prefixes [], spread_mode, spread_ports
 *   {low, high}, spread_pairs, endpoint_limit, steer, steer_qdisc ("1:").
 * Keys are base64, numbers are JSON numbers, addresses are strings.
 *
 * ctl_print_conf writes `wg showconf`'s INI, with the extension keys
 * after the standard ones of each section, in their config-file names.
 */
#ifndef FLOWSPREAD_CTL_PRINT_H
#define FLOWSPREAD_CTL_PRINT_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include "containers.h"

void ctl_print_pretty(FILE *f, const struct ctl_device *dev, time_t now, bool show_keys);
/* indent: the JSON nesting depth the object starts at (0 at top level). */
void ctl_print_json(FILE *f, const struct ctl_device *dev, bool show_keys, int indent);
void ctl_print_conf(FILE *f, const struct ctl_device *dev);

/* wg's "1 minute, 5 seconds" and "1.50 KiB". */
void ctl_format_duration(char *out, size_t outlen, unsigned long long seconds);
void ctl_format_bytes(char *out, size_t outlen, uint64_t bytes);

/* JSON string contents, escaped, quotes included. */
void ctl_json_string(FILE *f, const char *text);

#endif
