#!/bin/sh
# Make a busybox root filesystem for the example bundle (and the tests)
# from Debian's busybox-static. Nothing binary is committed.
# usage: bundles/make-rootfs.sh DIR
set -eu
dest=${1:?usage: make-rootfs.sh DIR}
bb=$(command -v busybox || true)
[ -n "$bb" ] || { echo "make-rootfs: busybox not found (apt-get install busybox-static)" >&2; exit 1; }
file "$bb" 2>/dev/null | grep -q "dynamically" && { echo "make-rootfs: $bb is not static" >&2; exit 1; }
mkdir -p "$dest/bin" "$dest/sbin" "$dest/etc" "$dest/proc" "$dest/sys" "$dest/dev" \
         "$dest/tmp" "$dest/root" "$dest/usr/bin" "$dest/var"
cp "$bb" "$dest/bin/busybox"
for applet in $("$dest/bin/busybox" --list); do
  [ -e "$dest/bin/$applet" ] || ln -s busybox "$dest/bin/$applet"
done
chmod 1777 "$dest/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$dest/etc/passwd"
printf 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n' > "$dest/etc/group"
echo pyrunc > "$dest/etc/hostname"
