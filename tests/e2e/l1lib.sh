# Sourced by every L1 /init of the nested test bed (tests/e2e/*l1init.sh,
# tests/guest/bed-l1init.sh): busybox applets, /proc, /sys, /dev, then
# kvm-amd and its dependencies from /modules.list. Prints "E2E: L1 up ...",
# "E2E: modules loaded ms=N" and "E2E: /dev/kvm present" (or "missing").
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts && mount -t devpts -o ptmxmode=0666 devpts /dev/pts && ln -sf pts/ptmx /dev/ptmx

# milliseconds since L1's kernel started (/proc/uptime has 2 decimals)
up_ms() { read -r u _ </proc/uptime; echo $(( ${u%.*} * 1000 + ${u#*.} * 10 )); }

echo "E2E: L1 up uptime_ms=$(up_ms) kernel=$(uname -r) svm=$(grep -c -w svm /proc/cpuinfo)"
_t0=$(up_ms)
for m in $(cat /modules.list); do
	insmod "/lib/modules/$m" || echo "E2E: insmod $m failed"
done
echo "E2E: modules loaded ms=$(( $(up_ms) - _t0 ))"
if [ -c /dev/kvm ]; then echo "E2E: /dev/kvm present"; else echo "E2E: /dev/kvm missing"; fi
