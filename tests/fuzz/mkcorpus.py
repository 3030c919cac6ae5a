#!/usr/bin/env python3
"""Writes the seed corpora tests/fuzz/corpus/<target>/ (a few small files
each): inputs a guest or a file would plausibly send, in each harness's
encoding (tests/fuzz/fuzz.h: a control byte kind << 3 | size << 1 | write,
the address, the value). Run from the top of the tree; the output is
committed, so the seeds are the same on every machine."""
import os, struct, zlib

OUT = "tests/fuzz/corpus"

def op(kind, addr, abytes, size=1, val=None):
    sz = {1: 0, 2: 1, 4: 2, 8: 3}[size]
    b = bytes([kind << 3 | sz << 1 | (val is not None)]) + addr.to_bytes(abytes, "little")
    if val is not None:
        b += (val & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
    return b

def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

# ---- virtio: guest RAM stores (kind 5: address, length, bytes) ----
def mem(addr, data):
    out = b""
    while data:
        chunk, data = data[:255], data[255:]
        out += op(5, addr, 2) + bytes([len(chunk)]) + chunk
        addr += len(chunk)
    return out

def desc(addr, length, flags, nxt):
    return struct.pack("<QIHH", addr, length, flags, nxt)

NEXT, WRITE, INDIRECT = 1, 2, 4
RING = lambda q: 0x3000 * q
SETUP16 = lambda feats: op(7, 4, 2, 8, feats)  # queue size 1 << 4
F_INDIRECT, F_EVENT_IDX = 1 << 28, 1 << 29

def avail(q, heads, used_event=None):
    b = struct.pack("<HH", 0, len(heads)) + b"".join(struct.pack("<H", h) for h in heads)
    b += b"\0" * (2 * (16 - len(heads)))
    if used_event is not None:
        b += struct.pack("<H", used_event)
    return mem(RING(q) + 0x1000, b)

def blk_req(typ, sector, data_len, dev_writes, payload=b""):
    chain = desc(0x8000, 16, NEXT, 1)
    if data_len:
        chain += desc(0x9000, data_len, NEXT | (WRITE if dev_writes else 0), 2)
        chain += desc(0xa000, 1, WRITE, 0)
    else:
        chain += desc(0xa000, 1, WRITE, 0)[:12] + b"\0\0"
        chain = desc(0x8000, 16, NEXT, 1) + desc(0xa000, 1, WRITE, 0)
    return (mem(RING(0), chain) + mem(0x8000, struct.pack("<IIQ", typ, 0, sector)) +
            (mem(0x9000, payload) if payload else b""))

PROCESS = op(6, 0, 2)
put("virtio_blk", "read", b"\0" + SETUP16(F_INDIRECT | F_EVENT_IDX) + blk_req(0, 1, 512, True) + avail(0, [0]) + PROCESS)
put("virtio_blk", "write", b"\0" + SETUP16(0) + blk_req(1, 2, 512, False, bytes(range(256)) * 2) + avail(0, [0]) + PROCESS)
put("virtio_blk", "flush-ro", b"\1" + SETUP16(0) + blk_req(4, 0, 0, False) + avail(0, [0]) + PROCESS)
put("virtio_blk", "indirect-getid",
    b"\0" + SETUP16(F_INDIRECT) + mem(RING(0), desc(0xb000, 48, INDIRECT, 0)) +
    mem(0xb000, desc(0x8000, 16, NEXT, 1) + desc(0x9000, 20, WRITE | NEXT, 2) + desc(0xa000, 1, WRITE, 0)) +
    mem(0x8000, struct.pack("<IIQ", 8, 0, 0)) + avail(0, [0]) + PROCESS)
put("virtio_blk", "zeroes-eventidx",
    b"\0" + SETUP16(F_EVENT_IDX) + mem(RING(0), desc(0x8000, 32, NEXT, 1) + desc(0xa000, 1, WRITE, 0)) +
    mem(0x8000, struct.pack("<IIQQII", 13, 0, 0, 4, 8, 1)) + avail(0, [0, 0], used_event=0) + PROCESS)
# legacy: status, queue PFN (page 1: desc 0x1000), notify
put("virtio_blk", "legacy",
    b"\0" + op(1, 0x12, 2, 1, 3) + op(1, 0x04, 2, 4, 0) + op(1, 0x0e, 2, 2, 0) + op(1, 0x08, 2, 4, 1) +
    op(1, 0x12, 2, 1, 7) + op(1, 0x00, 2, 4) + op(1, 0x13, 2, 1) + op(2, 0x0c, 2, 4, 0) + op(3, 0x40, 2, 2) +
    op(1, 0x10, 2, 2, 0) + PROCESS)

# ---- virtio-rng: one queue of writable buffers; op 8 moves the clock ----
rng_chain = mem(RING(0), desc(0x8000, 64, WRITE, 0) + desc(0x9000, 512, WRITE | NEXT, 2) + desc(0xa000, 256, WRITE, 0))
put("virtio_rng", "unlimited", b"\0" + SETUP16(F_EVENT_IDX) + rng_chain + avail(0, [0, 1]) + PROCESS)
put("virtio_rng", "limited", b"\1" + SETUP16(0) + rng_chain + avail(0, [0, 1, 0]) + PROCESS +
    op(8, 0, 2, 8, 250000000) + PROCESS)
put("virtio_rng", "indirect",
    b"\0" + SETUP16(F_INDIRECT) + mem(RING(0), desc(0xb000, 32, INDIRECT, 0)) +
    mem(0xb000, desc(0x8000, 16, WRITE | NEXT, 1) + desc(0x9000, 16, WRITE, 0)) + avail(0, [0]) + PROCESS)

# ---- virtio-net: queue 0 receive, 1 transmit, 2 control ----
def chain_at(q, descs):
    return mem(RING(q), b"".join(descs))

frame = bytes(12) + b"\xff" * 6 + b"\x52\x54\x00\x12\x34\x56" + b"\x08\x06" + bytes(46)
rx = chain_at(0, [desc(0x8000, 2048, WRITE, 0), desc(0x8800, 2048, WRITE, 0)]) + avail(0, [0, 1])
tx = chain_at(1, [desc(0x9000, 12, NEXT, 1), desc(0x9100, len(frame) - 12, 0, 0)]) + mem(0x9000, frame[:12]) + \
     mem(0x9100, frame[12:]) + avail(1, [0])
ctrl = chain_at(2, [desc(0xa000, 2, NEXT, 1), desc(0xa010, 1, NEXT, 2), desc(0xa020, 1, WRITE, 0)]) + \
       mem(0xa000, b"\0\0") + mem(0xa010, b"\1") + avail(2, [0])
F_MRG, F_CSUM = 1 << 15, 1
put("virtio_net", "tx-vnet", b"\1" + SETUP16(F_EVENT_IDX) + tx + PROCESS + op(9, 0, 2))
put("virtio_net", "rx-mrg", b"\1" + SETUP16(F_MRG | F_INDIRECT) + rx + op(8, len(frame), 2) + frame + PROCESS)
put("virtio_net", "ctrl", b"\0" + SETUP16(1 << 17 | 1 << 18) + ctrl + PROCESS)
stream = struct.pack(">I", len(frame) - 12) + frame[12:]
put("virtio_net", "stream", b"\2" + SETUP16(0) + rx + op(8, len(stream), 2) + stream + PROCESS + tx + PROCESS + op(9, 0, 2))

# ---- PCI: 0xCF8 / 0xCFC; slot 3 virtio-blk, slot 5 with a ROM ----
def cf8(slot, reg):
    return op(0, 0, 4, 4, 0x80000000 | slot << 11 | reg)
def cfc(val=None, size=4, lane=0):
    return op(1, lane, 4, size, val)
put("pci", "sizing", cf8(3, 0x10) + cfc(0xffffffff) + cfc() + cfc(0xc000) + cf8(3, 0x20) + cfc(0xffffffff) + cfc() +
    cfc(0xfe000000) + cf8(3, 0x24) + cfc(0) + cf8(3, 0x04) + cfc(7, 2) + op(2, 0x00 | 0x12 << 4, 4, 1) +
    op(2, 0x08 | 0x14 << 4, 4, 2, 0))
put("pci", "rom", cf8(5, 0x30) + cfc(0xffffffff) + cfc() + cfc(0xfeb00001) + cf8(5, 0x04) + cfc(2, 2) +
    op(2, 0x0d | 3000 << 4, 4, 4) + op(2, 0x0d | 4090 << 4, 4, 8))
put("pci", "bar64", cf8(5, 0x18) + cfc(0xffffffff) + cfc() + cfc(0x00000000) + cf8(5, 0x1c) + cfc(0x10) +
    cf8(5, 0x14) + cfc(0xd000) + cf8(5, 0x04) + cfc(3, 2) + cf8(5, 0x3c) + cfc(0x0b, 1) + op(3, 0x05 | 0x100 << 4, 4, 4, 1) +
    op(6, 0, 4, 4, 0x0b0a0b0a))

# ---- display: DISPI index/data, BAR2 (0x500 + 2 * index), VGA ----
def dispi(idx, val):
    return op(1, 0, 3, 2, idx) + op(1, 1, 3, 2, val)
RENDER = op(5, 0, 3)
put("display", "mode", dispi(1, 640) + dispi(2, 480) + dispi(3, 32) + dispi(4, 0x41) + RENDER + dispi(9, 100) + RENDER)
put("display", "mmio", op(0, 0x502, 3, 2, 1024) + op(0, 0x504, 3, 2, 768) + op(0, 0x506, 3, 2, 8) +
    op(0, 0x508, 3, 2, 1) + op(0, 0x50c, 3, 2, 2048) + RENDER + op(0, 0x10, 3, 4) + op(0, 0x400, 3, 1, 0x20) + op(0, 0x600, 3, 4))
put("display", "vgatext", op(2, 0x14, 3, 1, 0x0c) + op(2, 0x15, 3, 1, 0x07) + op(2, 0x14, 3, 1, 0x0e) + op(2, 0x15, 3, 1, 0x10) +
    op(2, 0x08, 3, 1, 0) + op(2, 0x09, 3, 1, 0x3f) + op(2, 0x00, 3, 1, 0x10) + op(2, 0x1a, 3, 1) + RENDER +
    op(6, 2990, 3, 8) + op(4, 0x1000, 3, 4, 0xffffffff))

# ---- ports ----
put("serial", "init", op(0, 3, 1, 1, 0x80) + op(0, 0, 1, 1, 1) + op(0, 1, 1, 1, 0) + op(0, 3, 1, 1, 3) + op(0, 2, 1, 1, 0xc7) +
    op(0, 1, 1, 1, 0x0f) + op(0, 0, 1, 1, 0x41) + op(0, 2, 1, 1) + op(0, 5, 1, 1) + op(6, 5, 1) + b"hello" + op(0, 0, 1, 1) + op(0, 6, 1, 1))
put("serial", "loop", op(0, 4, 1, 1, 0x10) + op(0, 0, 1, 1, 0x55) + op(0, 0, 1, 1) + op(0, 7, 1, 1, 0xaa) + op(0, 7, 1, 1) + op(7, 0, 1))
put("i8042", "kbd", op(0, 1, 1, 1, 0xaa) + op(0, 0, 1, 1) + op(0, 1, 1, 1, 0x60) + op(0, 0, 1, 1, 0x47) + op(0, 0, 1, 1, 0xff) +
    op(0, 0, 1, 1) + op(0, 0, 1, 1, 0xf0) + op(0, 0, 1, 1, 2) + op(5, 1, 1, 4, 0x001e001c) + op(0, 0, 1, 1) + op(0, 1, 1, 1))
put("i8042", "mouse", op(0, 1, 1, 1, 0xa8) + op(0, 1, 1, 1, 0xd4) + op(0, 0, 1, 1, 0xf3) + op(0, 1, 1, 1, 0xd4) + op(0, 0, 1, 1, 200) +
    op(0, 1, 1, 1, 0xd4) + op(0, 0, 1, 1, 0xf4) + op(6, 1, 1, 4, 0x00fd0305) + op(0, 0, 1, 1) + op(0, 1, 1, 1, 0xfe))
put("rtc", "clock", op(0, 0, 1, 1, 0x0b) + op(0, 1, 1, 1, 0x06) + op(0, 0, 1, 1, 0x00) + op(0, 1, 1, 1) + op(0, 0, 1, 1, 0x09) +
    op(0, 1, 1, 1, 0x99) + op(0, 0, 1, 1, 0x32) + op(0, 1, 1, 1, 0x18) + op(0, 0, 1, 1, 0x0a) + op(0, 1, 1, 1, 0x26) +
    op(0, 0, 1, 1, 0x0b) + op(0, 1, 1, 1, 0x72) + op(6, 0, 1) + op(0, 0, 1, 1, 0x0c) + op(0, 1, 1, 1) + op(7, 0, 1))
put("rtc", "cmos", op(0, 0, 1, 1, 0x34) + op(0, 1, 1, 1) + op(0, 0, 1, 1, 0x8f) + op(0, 1, 1, 1, 0) + op(0, 0, 1, 1, 0x04) +
    op(0, 1, 1, 1, 0x23) + op(0, 0, 1, 1, 0x08) + op(0, 1, 1, 1, 0x13) + op(0, 0, 1, 1, 0x32) + op(0, 1, 1, 1, 0x00))
put("pm", "sleep", op(0, 4, 1, 2, 1) + op(0, 2, 1, 2, 0x100) + op(6, 0, 1) + op(0, 0, 1, 2) + op(0, 0, 1, 2, 0x100) +
    op(0, 8, 1, 4) + op(3, 0, 1, 1, 0xf0) + op(4, 2, 1, 1, 0xff) + op(4, 0, 1, 1, 0xff) + op(0, 4, 1, 2, 0x3c01))
put("pm", "reset", op(5, 0, 1, 1, 2) + op(5, 1, 1, 1, 0x02) + op(5, 1, 1, 1, 0x06) + op(5, 0, 1, 1))
put("pflash", "program", op(0, 0x10, 2, 1, 0x50) + op(0, 0x10, 2, 1, 0x10) + op(0, 0x10, 2, 1, 0x5a) + op(0, 0x10, 2, 1) +
    op(0, 0x10, 2, 1, 0xff) + op(0, 0x10, 2, 4) + op(6, 0, 2))
put("pflash", "erase", op(0, 0x1000, 2, 1, 0x20) + op(0, 0x1000, 2, 1, 0xd0) + op(0, 0, 2, 1, 0x70) + op(0, 0, 2, 1) +
    op(0, 0, 2, 1, 0x98) + op(0, 0x20, 2, 2) + op(0, 0, 2, 1, 0x90) + op(0, 0, 2, 1) + op(7, 0, 2))

# ---- HPET (fuzz_hpet.c): 2-byte offsets; kind 6 moves the clock, 7 ticks ----
hpet = lambda off, size=4, val=None: op(0, off, 2, size, val)
tick = lambda ns: op(6, ns, 2, 1, 0)
put("hpet", "linux-legacy",
    hpet(0x0f0, 8, 0) + hpet(0x100, 4, 0x14c) + hpet(0x108, 4, 100000) + hpet(0x108, 4, 400000) +
    hpet(0x010, 4, 3) + hpet(0x0f0) + tick(4000) + op(7, 0, 2) + hpet(0x108) + tick(4000) + op(7, 0, 2) +
    hpet(0x010, 4, 1) + hpet(0x000, 8))
put("hpet", "level-32bit",
    hpet(0x120, 4, 0x2c06) + hpet(0x128, 8, 0x100000020) + hpet(0x0f0, 8, 0xfffffff0) + hpet(0x010, 4, 1) +
    tick(400) + op(7, 0, 2) + hpet(0x020) + hpet(0x020, 4, 2) + hpet(0x140, 2, 0x2b04) + hpet(0x148, 8, 0x30) +
    tick(1000) + op(7, 0, 2) + hpet(0x0f4) + hpet(0x0f3, 8))

# ---- fw_cfg ----
def fwdma(at, control, length, addr):
    return mem(at, struct.pack(">IIQ", control, length, addr))
put("fwcfg", "pio", op(0, 0, 2, 2, 0) + op(1, 0, 2, 4) + op(0, 0, 2, 2, 0x19) + op(1, 0, 2, 4) + op(1, 0, 2, 8) +
    op(0, 0, 2, 2, 0x22) + op(1, 0, 2, 8) + op(2, 0, 2, 4) + op(3, 0, 2, 4))
put("fwcfg", "dma", fwdma(0x100, 0x00190000 | 8 | 2, 64, 0x1000) + op(6, 0x100, 2) +
    fwdma(0x100, 0x00220000 | 8 | 4, 10, 0) + op(6, 0x100, 2) + fwdma(0x200, 2, 0x10, 0xfff8) + op(6, 0x200, 2) +
    fwdma(0x300, 16, 4, 0x100) + op(6, 0x300, 2))

# ---- the bzImage loader: 4 option bytes, then the image ----
def bzimage(version=0x20f, init_size=0x200000, xlf=1, pm=512, sects=1, syssize=None, pref=0x1000000):
    img = bytearray((sects + 1) * 512 + pm)
    img[0x1f1] = sects
    struct.pack_into("<I", img, 0x1f4, (pm + 15) // 16 if syssize is None else syssize)
    struct.pack_into("<H", img, 0x1fe, 0xaa55)
    img[0x201] = 0x66
    img[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", img, 0x206, version)
    img[0x211] = 1
    struct.pack_into("<I", img, 0x22c, 0x37ffffff)
    img[0x234] = 1
    struct.pack_into("<H", img, 0x236, xlf)
    struct.pack_into("<I", img, 0x238, 2048)
    struct.pack_into("<Q", img, 0x258, pref)
    struct.pack_into("<I", img, 0x260, init_size)
    return bytes(img)
put("boot", "64bit", bytes([0, 0, 0, 20]) + bzimage())
put("boot", "32bit-initrd-fb", bytes([3, 100, 0, 200]) + bzimage(xlf=0, version=0x20c))
put("boot", "too-big", bytes([0, 0, 1, 0]) + bzimage(init_size=0x10000000))
put("boot", "old-proto", bytes([0, 1, 0, 1]) + bzimage(version=0x206, sects=0, pm=2048))

# ---- init: command line, hal.conf, modules, disks ----
put("kcmd", "cmdline", b'BOOT_IMAGE=/vmlinuz console=ttyS0 hal.disk=LABEL=guest,ro hal.mem=2G hal.cpus=2 '
    b'hal.args="--boot-menu 5 --net \'user,hostfwd=tcp::8080-:80\'" virtio_net.napi_tx=1 hal.serial=console hal.net=macvtap=eth0 hal.ip=dhcp')
put("kcmd", "conf", b'# hal.conf\ndisk = PARTLABEL=win\nfirmware="ovmf"\nnet_wait=7\nbogus line\nhal.efivars_dir=none\ndisplay=kms\n')
put("kcmd", "quotes", b'hal.args="a \\"b c\\" \'d e\'" x="y z" hal.rescue hal.net=bridge-all hal.disk_wait=30')
put("modules", "dep", b"kernel/arch/x86/kvm/kvm-amd.ko: kernel/arch/x86/kvm/kvm.ko kernel/virt/lib/irqbypass.ko\n"
    b"kernel/arch/x86/kvm/kvm.ko: kernel/virt/lib/irqbypass.ko\nkernel/virt/lib/irqbypass.ko:\n"
    b"kernel/drivers/net/virtio_net.ko.xz: kernel/net/core/failover.ko\nkernel/net/core/failover.ko:\n\0"
    b"alias pci:v00001AF4d00001000sv*sd*bc*sc*i* virtio_net\nalias cpu:type:x86,ven*fam*mod*:feature:*0042* kvm_amd\n\0"
    b"kernel/drivers/block/loop.ko\n\0kvm 1000 0 - Live 0x0\n\0kvm_amd.nested=1 modprobe.blacklist=floppy\0"
    b"kvm-amd pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00 loop nonexistent")
put("modules", "cycle", b"a.ko: b.ko\nb.ko: a.ko\nc.ko: c.ko\n\0\0\0\0\0a b c")

def mbr(parts, sig=0x12345678):
    img = bytearray(512 * 32)
    struct.pack_into("<I", img, 440, sig)
    for i, (typ, start, size, boot) in enumerate(parts):
        struct.pack_into("<B3sB3sII", img, 446 + 16 * i, 0x80 if boot else 0, b"\0\0\0", typ, b"\0\0\0", start, size)
    img[510:512] = b"\x55\xaa"
    return img

fat = mbr([(0x0c, 8, 24, True), (0x05, 0, 0, False)])
fat[4096 + 0:4096 + 3] = b"\xeb\x3c\x90"
fat[4096 + 3:4096 + 11] = b"MSDOS5.0"
struct.pack_into("<HBHBHHBHHHII", fat, 4096 + 11, 512, 1, 1, 2, 512, 24, 0xf8, 1, 32, 2, 8, 0)
fat[4096 + 38] = 0x29
fat[4096 + 39:4096 + 43] = b"\x11\x22\x33\x44"
fat[4096 + 43:4096 + 54] = b"HALBOOT    "
fat[4096 + 54:4096 + 62] = b"FAT16   "
fat[4096 + 510:4096 + 512] = b"\x55\xaa"
put("disklabel", "mbr-fat", b"\0" + bytes(fat))
ext = mbr([(0x83, 2, 10, False), (0x05, 16, 16, False)])
ext[16 * 512 + 446:16 * 512 + 446 + 16] = struct.pack("<B3sB3sII", 0, b"\0\0\0", 0x83, b"\0\0\0", 2, 8)
ext[16 * 512 + 462:16 * 512 + 478] = struct.pack("<B3sB3sII", 0, b"\0\0\0", 0x05, b"\0\0\0", 20, 10)
ext[16 * 512 + 510:16 * 512 + 512] = b"\x55\xaa"
put("disklabel", "mbr-extended", b"\0" + bytes(ext))

def gpt():
    img = bytearray(mbr([(0xee, 1, 31, False)]))
    esp = bytes.fromhex("28732ac11ff8d211ba4b00a0c93ec93b")
    entry = esp + bytes(range(16)) + struct.pack("<QQQ", 10, 29, 0) + "HALBOOT".encode("utf-16-le").ljust(72, b"\0")
    entries = entry.ljust(32 * 128, b"\0")
    img[1024:1024 + len(entries)] = entries
    hdr = bytearray(struct.pack("<8sIIIIQQQQ16sQIII", b"EFI PART", 0x10000, 92, 0, 0, 1, 31, 10, 29,
                                bytes(range(16, 32)), 2, 32, 128, zlib.crc32(entries)))
    struct.pack_into("<I", hdr, 16, zlib.crc32(hdr))
    img[512:512 + 92] = hdr
    return bytes(img)
put("disklabel", "gpt-esp", b"\0" + gpt())
put("disklabel", "spec", b"\0PARTUUID=0011-22,ro,part")

# ---- hal's command line: argv split at NUL ----
def argv(*a):
    return b"\0".join(x.encode() for x in a)
put("config", "kernel", argv("--kernel", "bzImage", "--initrd", "i.img", "--append", "console=ttyS0", "--mem", "1G",
                             "--cpus", "2", "--serial", "stdio", "--debugcon", "file:/dev/null", "--no-reboot", "-v"))
put("config", "disks", argv("--disk", "a.img,ro,serial=xyz", "--disk", "b.img", "--firmware", "ovmf", "--efivars",
                            "none", "--secure-boot", "--boot-menu", "5", "--display", "none", "--control", "/tmp/c"))
put("config", "net", argv("--net", "user,hostfwd=tcp::8080-:80,mac=52:54:00:12:34:56", "--net", "bridge=br0",
                          "--net", "macvtap=eth0", "--net", "tap=tap0", "--mem", "64k", "--entry32", "--no-sandbox"))
put("control", "cmds", b"status\nsendkey ctrl-alt-delete\ntype hello World!\\n\nmouse 10 -5 1\nhelp\n\nbogus x\npowerdown\nquit\n")
put("control", "keys", b"sendkey shift-a\nsendkey f12\nsendkey \nsendkey ctrl-\ntype \t\x01\xff\nmouse x\n")

# ---- the UEFI variable store file: firmware volume, store header, variables ----
AUTH_GUID = bytes([0x78, 0x2c, 0xf3, 0xaa, 0x7b, 0x94, 0x9a, 0x43, 0xa1, 0x80, 0x2e, 0x14, 0x4e, 0xc3, 0x77, 0x92])
GLOBAL_GUID = bytes([0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11, 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c])

def auth_var(name, data, state=0x3f):
    n = (name + "\0").encode("utf-16-le")
    v = struct.pack("<HBBIQ16sIII16s", 0x55aa, state, 0, 0x27, 0, bytes(16), 0, len(n), len(data), GLOBAL_GUID) + n + data
    return v + b"\xff" * (-len(v) % 4)

def store(variables, size=2048):
    hdr = bytearray(72)
    struct.pack_into("<Q4sIHHHBB", hdr, 32, size, b"_FVH", 0x4feff, 72, 0, 0, 0, 2)
    struct.pack_into("<IIII", hdr, 56, size // 512, 512, 0, 0)
    s = sum(struct.unpack("<36H", bytes(hdr))) & 0xffff
    struct.pack_into("<H", hdr, 50, (-s) & 0xffff)
    vs = AUTH_GUID + struct.pack("<IBB6x", size - 72, 0x5a, 0xfe)
    body = bytes(hdr) + vs + b"".join(variables)
    return body + b"\xff" * (size - len(body))
put("efivars", "pk", store([auth_var("Boot0000", b"\1\0\0\0"), auth_var("PK", b"x" * 40)]))
put("efivars", "deleted-pk", store([auth_var("PK", b"y" * 8, state=0x3c), auth_var("db", b"z" * 20)]))
put("efivars", "empty", store([], 1024))

# ---- SMBIOS (--smbios file=): type 1 with strings, type 32 without, the end ----
t1 = bytes([1, 0x1b, 0, 1, 1, 2]) + bytes(0x1b - 6) + b"Vendor\0Thing\0\0"
t32 = bytes([32, 0x0b, 0, 2]) + bytes(0x0b - 4) + b"\0\0"
put("smbios", "small", t1 + t32 + bytes([127, 4, 0, 3, 0, 0]))
put("smbios", "no-end", t1 + t32)

# ---- nbd: what the server sends (fuzz_nbd.c: read 4096 @0, write 512,
# flush, trim, write-zeroes, read 4096 @4096, three 1 KiB reads in flight
# together; cookies 1, 2, ...) ----
def nbd_opt(typ, data):
    return (0x0003e889045565a9).to_bytes(8, "big") + (7).to_bytes(4, "big") + typ.to_bytes(4, "big") + \
        len(data).to_bytes(4, "big") + data
def nbd_reply(cookie, err=0, data=b""):
    return (0x67446698).to_bytes(4, "big") + err.to_bytes(4, "big") + cookie.to_bytes(8, "big") + data
nbd_hello = b"NBDMAGIC" + b"IHAVEOPT" + (3).to_bytes(2, "big")
nbd_export = nbd_opt(3, (0).to_bytes(2, "big") + (1 << 20).to_bytes(8, "big") + (1 | 4 | 32 | 64).to_bytes(2, "big"))
put("nbd", "good", nbd_hello + nbd_export + nbd_opt(1, b"") + nbd_reply(1, 0, b"\x5a" * 4096) +
    b"".join(nbd_reply(c) for c in (2, 3, 4, 5)) + nbd_reply(6, 0, b"\0" * 4096))
put("nbd", "refused", nbd_hello + nbd_opt(0x80000006, b"no such export"))
put("nbd", "queued-reversed", nbd_hello + nbd_export + nbd_opt(1, b"") + nbd_reply(1, 0, b"\x5a" * 4096) +
    b"".join(nbd_reply(c) for c in (2, 3, 4, 5)) + nbd_reply(6, 0, b"\0" * 4096) +
    b"".join(nbd_reply(c, 0, bytes([c]) * 1024) for c in (9, 8, 7)))
put("nbd", "error-reply", nbd_hello + nbd_export + nbd_opt(1, b"") + nbd_reply(1, 22) + nbd_reply(2, 5))

# ---- e1000 (fuzz_e1000.c): 3-byte addresses; 0 BAR0, 1 BAR1, 4 RAM bytes
# (2-byte length), 5 serve, 6 set-up (value: extra RCTL bits), 7 peer sends ----
def e_reg(off, val=None):
    return op(0, off, 3, 4, val)
def e_mem(addr, data):
    return op(4, addr, 3) + len(data).to_bytes(2, "little") + data
E_PROCESS, E_DRAIN = op(5, 0, 3), op(8, 0, 3)
E_SETUP = op(6, 0, 3, 4, 0x8000 | 1 << 26)  # BAM, SECRC, 2 KiB buffers
E_MAC = bytes([0x52, 0x54, 0, 0x12, 0x34, 0x56])
def e_legacy(addr, length, cmd):
    return struct.pack("<QHBBBBH", addr, length, 0, cmd, 0, 0, 0)
def e_ctx(ipcss, ipcso, ipcse, tucss, tucso, tucse, paylen, tucmd, hdrlen, mss):
    return struct.pack("<BBHBBHII", ipcss, ipcso, ipcse, tucss, tucso, tucse,
                       paylen | 0 << 20 | (tucmd | 0x20) << 24, hdrlen << 8 | mss << 16)
def e_data(addr, length, dcmd, popts):
    return struct.pack("<QII", addr, length | 1 << 20 | (dcmd | 0x20) << 24, popts << 8)
e_tcp = (E_MAC + b"\x52\x54\x00\x11\x22\x33\x08\x00" + b"\x45\x00\x00\x00\x12\x34\x00\x00\x40\x06\x00\x00" +
         b"\x0a\x00\x00\x02\x0a\x00\x00\x01" + b"\x9c\x40\x00\x50\x10\x00\x00\x00\x00\x00\x00\x00\x50\x19\xff\xff\x00\x00\x00\x00" +
         bytes(i * 13 & 0xff for i in range(1500)))
e_frame = E_MAC + b"\x52\x54\x00\x11\x22\x33\x08\x00" + bytes(range(86))
put("e1000", "tx-legacy", b"\0" + E_SETUP + e_mem(0, e_legacy(0x2000, 30, 0) + e_legacy(0x2100, 70, 0x0b)) +
    e_mem(0x2000, e_frame[:30]) + e_mem(0x2100, e_frame[30:]) + e_reg(0x3818, 2) + E_PROCESS + E_DRAIN)
put("e1000", "tx-tso", b"\1" + E_SETUP + e_mem(0, e_ctx(14, 24, 33, 34, 50, 0, 1500, 7, 54, 536) +
    e_data(0x2000, 54, 0x04, 3) + e_data(0x2000 + 54, 1500, 0x0d, 3)) + e_mem(0x2000, e_tcp) +
    e_reg(0x3818, 3) + E_PROCESS + E_DRAIN)
put("e1000", "tx-csum", b"\0" + E_SETUP + e_mem(0, e_ctx(14, 24, 33, 34, 50, 0, 0, 3, 0, 0) +
    e_data(0x2000, 200, 0x09, 3)) + e_mem(0x2000, e_tcp[:200]) + e_reg(0x3818, 2) + E_PROCESS + E_DRAIN)
e_rxdesc = b"".join(struct.pack("<QQ", 0x4000 + 0x800 * i, 0) for i in range(16))
put("e1000", "rx", b"\0" + op(6, 0, 3, 4, 0x8000 | 3 << 16) + e_mem(0x1000, e_rxdesc) +
    op(7, len(e_frame), 3) + e_frame + E_PROCESS + e_reg(0x00c0) + e_reg(0x4074))
put("e1000", "rx-vnet", b"\1" + E_SETUP + e_mem(0x1000, e_rxdesc) + op(7, 12 + len(e_frame), 3) + bytes(12) +
    e_frame + E_PROCESS + e_reg(0x2810))
put("e1000", "rx-stream", b"\2" + E_SETUP + e_mem(0x1000, e_rxdesc) + op(7, 4 + len(e_frame), 3) +
    len(e_frame).to_bytes(4, "big") + e_frame + E_PROCESS)
# EEPROM: EERD word 0, then a Microwire READ of word 1 bit by bit
ee = e_reg(0x14, 1) + e_reg(0x14) + e_reg(0x10, 0x40) + e_reg(0x10, 0x42)
for b in [1, 1, 0, 0, 0, 0, 0, 0, 1]:
    v = 0x42 | (4 if b else 0)
    ee += e_reg(0x10, v) + e_reg(0x10, v | 1) + e_reg(0x10, v)
for _ in range(16):
    ee += e_reg(0x10, 0x43) + e_reg(0x10) + e_reg(0x10, 0x42)
put("e1000", "eeprom", b"\0" + ee + e_reg(0x10, 0))
put("e1000", "phy-io", b"\0" + e_reg(0x20, 2 << 26 | 1 << 21 | 1 << 16) + e_reg(0x20) +
    e_reg(0x20, 1 << 26 | 1 << 21 | 0 << 16 | 0x9140) + op(1, 0, 3, 4, 0x8) + op(1, 4, 3, 4) +
    op(1, 0, 3, 4, 0x100) + op(1, 4, 3, 4, 0x8002) + e_reg(0, 1 << 26))
# VLANs: CTRL.VME, a VLE descriptor with tag 7, a tagged frame in, VFE + VFTA
e_tagged = E_MAC + b"\x52\x54\x00\x11\x22\x33\x81\x00\x00\x07\x08\x00" + bytes(range(60))
put("e1000", "vlan", b"\0" + E_SETUP + e_reg(0, 0x40000040) +
    e_mem(0, struct.pack("<QHBBBBH", 0x2000, 60, 0, 0x4b, 0, 0, 7)) + e_mem(0x2000, e_frame[:60]) +
    e_reg(0x3818, 1) + e_mem(0x1000, e_rxdesc) + op(7, len(e_tagged), 3) + e_tagged + E_PROCESS +
    e_reg(0x100, 0x8002 | 1 << 18 | 1 << 26) + e_reg(0x5600, 1 << 7) + op(7, len(e_tagged), 3) + e_tagged +
    E_PROCESS + E_DRAIN)

# ---- AHCI (fuzz_ahci.c): op 6 sets ports up (CLB 0x1000 + 0x400 * port),
# a command is its header, table (0x6000 + 0x200 * slot) and PRDT, then CI
# and op 4 runs it ----
AHCI_SETUP = op(6, 0, 2, 1, 0x07)
AHCI_RUN = op(4, 0, 2)

def ahci_cmd(port, slot, cmd, lba=0, count=0, feat=0, cdb=b"", data=0xa000, length=512, write=False, ncq=False):
    ct = 0x6000 + 0x200 * slot
    prdtl = 1 if length else 0
    hdr = struct.pack("<IIQ", 5 | (0x20 if cdb else 0) | (0x40 if write else 0) | prdtl << 16, 0, ct) + b"\0" * 16
    fis = bytes([0x27, 0x80, cmd, feat & 0xff, lba & 0xff, lba >> 8 & 0xff, lba >> 16 & 0xff, 0x40,
                 lba >> 24 & 0xff, 0, 0, feat >> 8, count & 0xff, count >> 8, 0, 0]) + b"\0" * 48
    table = fis + cdb.ljust(16, b"\0") + b"\0" * 48
    if length:
        table += struct.pack("<QII", data, 0, length - 1)
    port_reg = 0x100 + 0x80 * port
    out = mem(0x1000 + 0x400 * port + 32 * slot, hdr) + mem(ct, table)
    if ncq:
        out += op(0, port_reg + 0x34, 2, 4, 1 << slot)
    return out + op(0, port_reg + 0x38, 2, 4, 1 << slot) + AHCI_RUN

put("ahci", "identify", b"\0" + AHCI_SETUP + ahci_cmd(0, 0, 0xec) + ahci_cmd(1, 0, 0xa1))
put("ahci", "write-read", b"\0" + AHCI_SETUP + mem(0xa000, bytes(range(256)) * 2) +
    ahci_cmd(0, 0, 0x35, lba=3, count=1, write=True) + ahci_cmd(0, 1, 0x25, lba=3, count=1, data=0xb000) +
    ahci_cmd(0, 2, 0xea, length=0))
put("ahci", "ncq-trim", b"\0" + AHCI_SETUP + ahci_cmd(0, 3, 0x61, lba=8, feat=1, count=3 << 3, write=True, ncq=True) +
    mem(0xa000, struct.pack("<Q", 8 | 4 << 48)) + ahci_cmd(0, 4, 0x06, feat=1, count=1, write=True) +
    ahci_cmd(0, 5, 0x60, lba=8, feat=1, count=5 << 3, ncq=True))
put("ahci", "atapi", b"\0" + AHCI_SETUP + ahci_cmd(1, 0, 0xa0, feat=1, cdb=bytes([0x12, 0, 0, 0, 36]), length=36) +
    ahci_cmd(1, 1, 0xa0, feat=1, cdb=bytes([0x28, 0, 0, 0, 0, 2, 0, 0, 2]), length=4096) +
    ahci_cmd(1, 2, 0xa0, cdb=bytes([0x43, 2, 0, 0, 0, 0, 0, 0, 100]), length=100) +
    ahci_cmd(1, 3, 0xa0, cdb=bytes([0x46, 0, 0, 0, 0, 0, 0, 0, 255]), length=255) +
    ahci_cmd(1, 4, 0xa0, cdb=bytes([0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 64]), length=64))
put("ahci", "eject-change", b"\1" + AHCI_SETUP + op(5, 0, 2, 1, 1) + ahci_cmd(1, 0, 0xa0, cdb=b"\0", length=0) +
    ahci_cmd(1, 1, 0xa0, cdb=bytes([0x03, 0, 0, 0, 18]), length=18) + op(5, 0, 2, 1, 0) +
    ahci_cmd(1, 2, 0xa0, cdb=b"\0", length=0) +
    ahci_cmd(1, 3, 0xa0, cdb=bytes([0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8]), length=8))
put("ahci", "hostile", b"\0" + AHCI_SETUP + ahci_cmd(0, 0, 0x25, count=1, data=0xfff0) +
    mem(0x1000, struct.pack("<IIQ", 5 | 0xffff << 16, 0, 0xf000)) + op(0, 0x138, 2, 4, 1) + AHCI_RUN +
    op(0, 0x118, 2, 4, 0) + op(0, 0x108, 2, 4, 0xfff00000) + op(0, 0x118, 2, 4, 0x11) + ahci_cmd(0, 1, 0xec) +
    op(1, 0x42, 2, 1, 1) + op(0, 0x04, 2, 4, 1))

# ---- direct: cache=none requests (fuzz_direct.c): control byte (op, whole
# sectors, buffers - 1), 3 bytes offset, 2 length, per buffer 2 bytes share
# and 1 misalignment, then a write's bytes ----
def dreq(opk, off, length, bufs=((0x8000, 1),), sectors=False, data=b""):
    b = bytes([opk | (4 if sectors else 0) | (len(bufs) - 1) << 3]) + off.to_bytes(3, "little") + length.to_bytes(2, "little")
    for share, mis in bufs:
        b += share.to_bytes(2, "little") + bytes([mis])
    return b + data

put("direct", "sectors", b"\0" + dreq(1, 1024, 1024, sectors=True, data=bytes(range(256)) * 4) + dreq(0, 512, 2048, sectors=True))
put("direct", "rmw-4k", b"\1" + dreq(1, 4096 + 512, 512, ((0x8000, 3), (0, 1)), data=b"\x5a" * 512) +
    dreq(0, 4096, 4096, ((0x4000, 7), (0x8000, 0), (0, 9))) + dreq(1, 16384 + 700, 300, data=b"\xc3" * 300) +
    dreq(0, 17920 - 1000, 1000) + dreq(1, 17920 - 4, 8, data=b"past"))
put("direct", "zeroes-discard", b"\1" + dreq(2, 1000, 3000) + dreq(3, 8192, 4096, sectors=True) + dreq(0, 0, 17920))
put("direct", "snapshot", b"\3" + dreq(1, 300, 5000, ((0x2000, 5), (0x9000, 2), (0, 0)), data=bytes(range(256)) * 20) +
    dreq(0, 0, 17920, ((0x1000, 1), (0, 3))) + dreq(2, 16384, 1536))
