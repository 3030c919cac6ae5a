# Sourced by every L1 /init of the nested test bed (tests/e2e/*l1init.sh,
# tests/guest/bed-l1init.sh): busybox applets, /proc, /sys, /dev, then
# kvm-amd and its dependencies from /modules.list. Prints "E2E: L1 up ...",
# "E2E: modules loaded ms=N", "E2E: /dev/kvm present" (or "missing") and
# "E2E: L1 map ..." (where the kernel and kvm, kvm_amd were loaded).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts && mount -t devpts -o ptmxmode=0666 devpts /dev/pts && ln -sf pts/ptmx /dev/ptmx

# milliseconds since L1's kernel started (/proc/uptime has 2 decimals)
# (the hundredths lose a leading 0: ash reads "08" as a bad octal number)
up_ms() { read -r u _ </proc/uptime; _c=${u#*.}; echo $(( ${u%.*} * 1000 + ${_c#0} * 10 )); }

echo "E2E: L1 up uptime_ms=$(up_ms) kernel=$(uname -r) svm=$(grep -c -w svm /proc/cpuinfo)"
_t0=$(up_ms)
for m in $(cat /modules.list); do
	insmod "/lib/modules/$m" || echo "E2E: insmod $m failed"
done
echo "E2E: modules loaded ms=$(( $(up_ms) - _t0 ))"
if [ -c /dev/kvm ]; then echo "E2E: /dev/kvm present"; else echo "E2E: /dev/kvm missing"; fi
# where the kernel and the KVM modules sit (KASLR): bedlib.sh's lockup
# report names the function each stuck CPU is in from these
echo "E2E: L1 map $(grep -m1 ' _text$' /proc/kallsyms | cut -d' ' -f1) $(grep -E '^kvm(_amd)? ' /proc/modules | cut -d' ' -f1,6 | tr '\n' ' ')"

# Screendumps through hal's --control socket SOCK (halctl from build/guest):
# l1_stable SOCK OUT   screendumps 3 s apart until two are the same (<= 60 s)
# l1_send NAME FILE    FILE gzip'd and base64'd between "E2E: BEGIN NAME" and
#                      "E2E: END NAME", for the host to decode and OCR
l1_stable() {
	halctl "$1" screendump /tmp/stable.ppm >/dev/null
	for _ in $(seq 20); do
		sleep 3
		halctl "$1" screendump "$2" >/dev/null
		cmp -s /tmp/stable.ppm "$2" && return 0
		cp "$2" /tmp/stable.ppm
	done
}
l1_send() {
	echo "E2E: BEGIN $1"
	gzip -9c "$2" | base64
	echo "E2E: END $1"
}
