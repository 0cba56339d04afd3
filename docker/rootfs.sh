#!/bin/sh
# rootfs.sh ROOT: turns what `meson install --destdir ROOT` (prefix /usr) put
# in ROOT into the whole file system of the runtime image: the programs, the
# SQL and the console's assets stay; the shared libraries the programs load,
# the dynamic loader, the CA bundle (for an https license backend) and the
# non-root user 10001 ("allot") are added; the unit, the man pages and the
# example environment file, which a container does not use, go.
set -eu
root=$1
rm -rf "$root/usr/lib/systemd" "$root/usr/share/man" "$root/etc/allot"

# Debian 12 has merged /usr: /lib and /lib64 are /usr/lib and /usr/lib64.
mkdir -p "$root/usr/lib" "$root/usr/lib64"
ln -sfn usr/lib "$root/lib"
ln -sfn usr/lib64 "$root/lib64"

# Every library ldd lists (the loader too), copied as its soname.
for bin in "$root"/usr/bin/*; do
	ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
done | sort -u | while read -r lib; do
	case $lib in
	/usr/*) dest=$root$lib ;;
	*) dest=$root/usr$lib ;;
	esac
	mkdir -p "$(dirname "$dest")"
	cp -L "$lib" "$dest"
done

mkdir -p "$root/etc/ssl/certs" "$root/tmp"
chmod 1777 "$root/tmp"
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/sbin/nologin\nallot:x:10001:10001:allot:/nonexistent:/sbin/nologin\n' \
	>"$root/etc/passwd"
printf 'root:x:0:\nallot:x:10001:\n' >"$root/etc/group"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
