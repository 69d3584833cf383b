#!/bin/sh
# Installs what flowspread needs to build and test on Debian 12 (as root).
set -e
export DEBIAN_FRONTEND=noninteractive

# apt_get ARGS...: apt-get, waiting (up to 10 minutes) while another apt
# or dpkg holds its locks, as a second checkout's run of this script may.
apt_get()
{
	err=$(mktemp)
	tries=0
	while ! apt-get -o DPkg::Lock::Timeout=60 "$@" 2>"$err"; do
		cat "$err" >&2
		tries=$((tries + 1))
		if ! grep -q 'Could not get lock' "$err" || [ "$tries" -ge 60 ]; then
			rm -f "$err"
			return 1
		fi
		echo "debian-deps: apt is busy; trying again in 10 s" >&2
		sleep 10
	done
	cat "$err" >&2
	rm -f "$err"
}

apt_get update -q
apt_get install -y -q --no-install-recommends \
	build-essential autoconf automake pkg-config \
	libsodium-dev libb2-dev liburing-dev libnftnl-dev libmnl-dev liburcu-dev \
	libcriterion-dev \
	iproute2 nftables iputils-ping tcpdump jq iperf3 irtt python3 procps psmisc \
	wireguard-go wireguard-tools
