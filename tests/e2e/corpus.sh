#!/bin/sh
# The standalone-program corpus (docs/guest-support.md): programs from
# Debian's packages that own the machine without an OS, each booted by hal
# in the nested test bed the way a user would boot it (its ISO as a disk
# through SeaBIOS or OVMF, or its Linux-boot-protocol image with --kernel).
# L1 (tests/e2e/corpus-l1init.sh) takes two screendumps of each through
# hal's control socket; here tesseract must read the program's own screen
# in one of them. A program whose package is missing is a SKIP naming it.
# Prints PASS/FAIL/SKIP and "e2e: time" lines; log: $BUILD/e2e/corpus-log.txt,
# pictures $BUILD/e2e/corpus-NAME-N.png.
# Environment: BUILD, MAKE, CORPUS_TIMEOUT (seconds for QEMU, default 1200),
#   CORPUS_ONLY (names to run, default all), CORPUS_SECONDS (the wait before
#   each screendump, default 30)
BUILD=${BUILD:-build}
MAKE=${MAKE:-make}
E2E=$BUILD/e2e
timeout_s=${CORPUS_TIMEOUT:-1200}
secs=${CORPUS_SECONDS:-30}
log=$E2E/corpus-log.txt
code=/usr/share/OVMF/OVMF_CODE_4M.fd
vars=/usr/share/OVMF/OVMF_VARS_4M.fd
VGABIOS=/usr/share/seabios/vgabios-bochs-display.bin
. tests/e2e/bedlib.sh
bed_qemu_check e2e-corpus || exit 0
mkdir -p "$E2E"
if ! $MAKE -s --no-print-directory BUILD="$BUILD" e2e-images "$BUILD/guest/halctl" >"$E2E/corpus-make.log" 2>&1; then
	tail -n 20 "$E2E/corpus-make.log" | sed 's/^/  /'
	echo "FAIL e2e-corpus-build: see $E2E/corpus-make.log"
	exit 0
fi

# SYSLINUX's Hardware Detection Tool (hdt.c32, Debian's syslinux-common) on
# a FAT16 disk made like tests/e2e/mkguestdisk.sh's: it probes CPUID, PCI,
# DMI (our SMBIOS), memory maps, VESA and disks through the BIOS.
hdt=$E2E/corpus-hdt.img
mods=/usr/lib/syslinux/modules/bios
if [ -s $mods/hdt.c32 ] && command -v syslinux >/dev/null && command -v mcopy >/dev/null; then
	rm -f "$hdt" && truncate -s 16M "$hdt"
	printf 'label: dos\nstart=2048, type=6, bootable\n' | sfdisk -q "$hdt"
	mkfs.fat -F 16 -n HDT -h 2048 --offset 2048 "$hdt" $((15 * 1024)) >/dev/null
	printf 'DEFAULT hdt\nPROMPT 0\nLABEL hdt\n  COM32 hdt.c32\n' >"$E2E/corpus-hdt.cfg"
	MTOOLS_SKIP_CHECK=1 mcopy -i "$hdt@@1M" "$E2E/corpus-hdt.cfg" ::syslinux.cfg
	for f in hdt.c32 libcom32.c32 libutil.c32 libmenu.c32 libgpl.c32; do
		MTOOLS_SKIP_CHECK=1 mcopy -i "$hdt@@1M" $mods/$f ::$f
	done
	syslinux --offset $((2048 * 512)) --install "$hdt"
	dd if=/usr/lib/syslinux/mbr/mbr.bin of="$hdt" conv=notrunc bs=440 count=1 status=none
fi

# NAME|FILE|PACKAGE|HAL ARGS (@ is the file in L1)|WORDS tesseract must read, |-separated
corpus='memtest-bios|/usr/lib/memtest86+/memtest86+x64.iso|memtest86+|--disk @,ro --firmware bios --mem 256M|Testing|Pattern
memtest-smp|/usr/lib/memtest86+/memtest86+x64.iso|memtest86+|--disk @,ro --firmware bios --mem 256M --cpus 2|Testing|SMP: 2T
memtest-uefi|/usr/lib/memtest86+/memtest86+x64.iso|memtest86+|--disk @,ro --firmware ovmf --efivars none --mem 256M|Testing|Pattern
memtest-cdrom|/usr/lib/memtest86+/memtest86+x64.iso|memtest86+|--cdrom @ --mem 256M|Testing|Pattern
memtest-kernel|/boot/memtest86+x64.bin|memtest86+|--kernel @ --mem 256M|Testing|Pattern
ipxe-bios|/usr/lib/ipxe/ipxe.iso|ipxe|--disk @,ro --firmware bios --mem 256M|iPXE
hdt|'"$hdt"'|syslinux-common|--disk @ --firmware bios --mem 256M|Hardware Detection|Processor|Summary'

: >"$E2E/corpus.list"
: >"$E2E/corpus.run"
{
	echo "dir /corpus 0755"
	for d in /usr /usr/share /usr/share/OVMF; do echo "dir $d 0755"; done
	echo "file $code $code 0644"
	echo "file $vars $vars 0644"
	for d in /usr/share/seabios; do echo "dir $d 0755"; done
	echo "file $VGABIOS $VGABIOS 0644"
	echo "file /init tests/e2e/corpus-l1init.sh 0755"
	echo "file /bin/halctl $BUILD/guest/halctl 0755"
	echo "$corpus" | while IFS='|' read -r name file pkg args words; do
		case " ${CORPUS_ONLY:-$name} " in *" $name "*) ;; *) continue ;; esac
		if ! [ -s "$file" ]; then
			echo "SKIP e2e-corpus-$name: no $file (apt-get install $pkg)" >>"$E2E/corpus.run"
			continue
		fi
		l1=/corpus/$(basename "$file")
		echo "file $l1 $file 0644"
		echo "$name $secs $(echo "$args" | sed "s|@|$l1|")" >>"$E2E/corpus.list"
		echo "$name|$words" >>"$E2E/corpus.run"
	done
	echo "file /corpus/list $E2E/corpus.list 0644"
} | "$E2E/mkcpio" | gzip -1n >"$E2E/corpus-overlay.cpio.gz"
cat "$E2E/l1.cpio.gz" "$E2E/corpus-overlay.cpio.gz" >"$E2E/corpus-l1.cpio.gz"
grep '^SKIP' "$E2E/corpus.run"
if ! [ -s "$E2E/corpus.list" ]; then exit 0; fi

rm -f "$E2E"/corpus-*.png "$E2E"/corpus-*.ppm "$E2E"/corpus-*.ocr.txt
# Each program prints on L1's console at least every 2 x CORPUS_SECONDS + 30 s
BED_SILENCE=$((2 * secs + 120))
bed_boot2 corpus "$log" "$timeout_s" -m 2048 -smp 2 \
	-kernel "$E2E/vmlinuz" -initrd "$E2E/corpus-l1.cpio.gz" -append "console=ttyS0 panic=-1 quiet"
echo "e2e: time corpus test bed (QEMU) $bed_ms ms (log: $log)"
if ! grep -q 'E2E: /dev/kvm present' "$log"; then
	echo "FAIL e2e-corpus-l1: L1 did not come up with /dev/kvm; last lines:"
	tail -n 10 "$log" | sed 's/^/  /'
	exit 0
fi
grep -v '^SKIP' "$E2E/corpus.run" | while IFS='|' read -r name words; do
	tr -d '\r' <"$log" | grep "E2E: corpus $name hal" | sed 's/^/  /'
	why= got=
	for i in 1 2; do
		bed_screendump "$log" "$name-$i" "$E2E/corpus-$name-$i" || { why="$why; no screendump $i"; continue; }
		# shellcheck disable=SC2086 # words are |-separated
		w=$(IFS='|'; bed_ocr "$E2E/corpus-$name-$i.png" $words)
		case $? in
		0) got=1; break ;;
		2) got=skip; break ;;
		*) why="$why; screendump $i $w" ;;
		esac
	done
	case $got in
	1) echo "PASS e2e-corpus-$name" ;;
	skip) echo "SKIP e2e-corpus-$name: tesseract is missing (apt-get install tesseract-ocr)" ;;
	*) echo "FAIL e2e-corpus-$name: ${why#; } (pictures $E2E/corpus-$name-*.png)" ;;
	esac
done
exit 0
