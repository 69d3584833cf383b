#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# flowspreadd initiates to wireguard-go over IPv4 then IPv6: ping, TCP and UDP both
# ways over inner IPv4 and IPv6, `wg show' on both ends. The topology and
# the checks are in daemon-interop-common.sh.

initiator=flowspreadd
responder=wireguard-go
# shellcheck source-path=SCRIPTDIR source=daemon-interop-common.sh
. "$(dirname "$0")/daemon-interop-common.sh"
