#!/bin/sh
# Installs what flowspread needs to build and test on Debian 12 (as root).
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
	build-essential autoconf automake pkg-config \
	libsodium-dev libb2-dev liburing-dev libnftnl-dev libmnl-dev liburcu-dev \
	libcriterion-dev \
	iproute2 nftables iputils-ping tcpdump jq iperf3 irtt python3 procps psmisc \
	wireguard-go wireguard-tools
