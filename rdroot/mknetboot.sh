#!/bin/sh
# Writes the netboot tree (docs/netboot.md): what a TFTP or HTTP boot server
# hands out to boot the HAL over the network, with the same kernel and
# rdroot as the USB stick. OUTDIR is meant to be the server's root:
#   vmlinuz, rdroot.img          the kernel and the initramfs (init is PID 1)
#   boot.ipxe                    iPXE script (BIOS or UEFI iPXE, or chained
#                                from another NBP); relative names, so it
#                                works from tftp:// and http:// alike
#   pxelinux.0, ldlinux.c32      Debian's PXELINUX (packages pxelinux and
#   pxelinux.cfg/default         syslinux-common), legacy BIOS PXE
#   grubx64.efi                  Debian's signed GRUB netboot image
#                                (grub-efi-amd64-signed: grubnetx64.efi.signed),
#                                UEFI PXE and UEFI HTTP boot; its built-in
#                                prefix is /grub, so it reads grub/grub.cfg
#   shimx64.efi                  Debian's signed shim (shim-signed), for
#                                Secure Boot: it starts grubx64.efi beside it
#   grub/grub.cfg                GRUB's configuration
#   cmdline                      the kernel command line, for reference
# The three configurations carry the same kernel command line. pxelinux.0,
# the GRUB image and shim are copied when their packages are installed (a
# missing one is named, and its configuration is written anyway).
# Usage: mknetboot.sh KERNEL INITRD CMDLINE OUTDIR   (CMDLINE @FILE: read it from FILE)
set -eu
kernel=$1 initrd=$2 cmdline=$3 out=$4
pxelinux=${PXELINUX:-/usr/lib/PXELINUX/pxelinux.0}
ldlinux=${LDLINUX:-/usr/lib/syslinux/modules/bios/ldlinux.c32}
grubnet=${GRUBNET:-/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed}
shim=${SHIM:-/usr/lib/shim/shimx64.efi.signed}
t0=$(date +%s%3N)
for f in "$kernel" "$initrd"; do
	[ -s "$f" ] || { echo "mknetboot.sh: missing $f" >&2; exit 1; }
done
case $cmdline in @*) cmdline=$(cat "${cmdline#@}") ;; esac
cmdline=$(printf '%s\n' "$cmdline" | tr -s ' \n' '  ' | sed 's/^ //;s/ $//')
# iPXE and PXELINUX pass the rest of the line as it is; GRUB expands $ and
# takes ; quotes and backslashes itself: a command line with any of them is
# refused rather than booted differently by each loader (so hal.args="..."
# with spaces does not fit here; docs/netboot.md).
case $cmdline in *[\;\$\"\'\`\\]*)
	echo "mknetboot.sh: the command line has one of ; \$ \" ' \` \\ (not passed the same by iPXE, PXELINUX and GRUB): $cmdline" >&2
	exit 1 ;;
esac
tmp=$out.tmp
rm -rf "$tmp"
mkdir -p "$tmp/pxelinux.cfg" "$tmp/grub"
cp "$kernel" "$tmp/vmlinuz"
cp "$initrd" "$tmp/rdroot.img"
printf '%s\n' "$cmdline" >"$tmp/cmdline"

# iPXE: names relative to the script's own URL. initrd= names the initrd
# for the kernel's EFI stub when the iPXE is a UEFI one (its initrds are
# files on a virtual file system there); a BIOS iPXE passes it along unused.
cat >"$tmp/boot.ipxe" <<EOF
#!ipxe
# The HAL over the network (rdroot/mknetboot.sh, docs/netboot.md)
echo hal netboot: loading vmlinuz and rdroot.img
kernel vmlinuz initrd=rdroot.img $cmdline
initrd rdroot.img
boot
EOF

# PXELINUX: names relative to the directory pxelinux.0 came from; it tries
# pxelinux.cfg/<UUID>, /01-<MAC>, /<IP in hex>... before default.
cat >"$tmp/pxelinux.cfg/default" <<EOF
SERIAL 0 115200
DEFAULT hal
PROMPT 0
TIMEOUT 0
LABEL hal
  LINUX vmlinuz
  INITRD rdroot.img
  APPEND $cmdline
EOF

# GRUB: $root is the server GRUB was loaded from ((tftp,IP) or (http,IP)).
cat >"$tmp/grub/grub.cfg" <<EOF
# The HAL over the network (rdroot/mknetboot.sh, docs/netboot.md)
serial --unit=0 --speed=115200
terminal_input console serial
terminal_output console serial
set timeout=0
set default=0
menuentry "hal" {
	echo "hal netboot: loading /vmlinuz and /rdroot.img from \$root"
	linux /vmlinuz $cmdline
	initrd /rdroot.img
}
EOF

missing=""
copy() { # SRC DEST PACKAGE
	if [ -s "$1" ]; then cp "$1" "$tmp/$2"; else missing="$missing $2 ($3: $1)"; fi
}
copy "$pxelinux" pxelinux.0 pxelinux
copy "$ldlinux" ldlinux.c32 syslinux-common
copy "$grubnet" grubx64.efi grub-efi-amd64-signed
copy "$shim" shimx64.efi shim-signed
rm -rf "$out"
mv "$tmp" "$out"
echo "netboot: $out: vmlinuz, rdroot.img, boot.ipxe, pxelinux.cfg/default, grub/grub.cfg$(
	for f in pxelinux.0 ldlinux.c32 grubx64.efi shimx64.efi; do [ -e "$out/$f" ] && printf ', %s' $f; done
), $(($(du -sk "$out" | cut -f1) / 1024)) MiB, $(($(date +%s%3N) - t0)) ms"
[ -z "$missing" ] || echo "netboot: left out (apt-get install the package):$missing"
echo "netboot: command line: $cmdline"
