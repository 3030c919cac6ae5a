/* The PC hal emulates (docs/architecture.md, "The board"): i440FX/PIIX
 * chipset, legacy ports, fw_cfg, virtio disks, bochs-display, and what the
 * firmware or a directly booted kernel is given. main.c owns the process
 * (command line, signals, terminal, host display and input); this is the
 * machine. */
#ifndef PC_H
#define PC_H
#include "core/config.h"
#include "core/hal.h"
#include "disk/disk.h"
#include "display/bochs.h"
#include "hw/debug.h"
#include "hw/ahci.h"
#include "hw/fwcfg.h"
#include "hw/hpet.h"
#include "hw/i8042.h"
#include "hw/pm.h"
#include "hw/reset.h"
#include "hw/rtc.h"
#include "hw/serial.h"
#include "net/net.h"
#include "pc/chipset.h"

/* ISA interrupts and fixed places of the board (dsdt.asl says the same). */
#define PC_PM_BASE      0x600  /* PIIX4 PM block until firmware moves it */
#define PC_SCI_IRQ      9
#define PC_COM1_IRQ     4
#define PC_RTC_IRQ      8
#define PC_DISPLAY_SLOT 2      /* PCI slot of bochs-display */
#define PC_DISK_SLOT0   3      /* first virtio-blk; the others follow */
#define PC_RNG_SLOT     11     /* virtio-rng: after the eighth disk's slot */
#define PC_AHCI_SLOT    12     /* the AHCI controller (--disk ,if=ahci, --cdrom) */
#define PC_NIC_SLOT0    16     /* first virtio-net, whatever the number of disks */
#define PC_IPXE_ROM     "/usr/lib/ipxe/qemu/efi-virtio.rom" /* Debian's ipxe-qemu: PXE and UEFI */
#define PC_E1000_ROM    "/usr/lib/ipxe/qemu/efi-e1000.rom"  /* the same for model=e1000 */
/* Direct boot: where hal itself places the display's BARs (PCI window). */
#define PC_DIRECT_LFB   0xFD000000ULL
#define PC_DIRECT_MMIO  0xFEBF0000ULL

struct pc {
	struct config *cfg;
	struct vm vm;
	struct serial com1;
	struct i8042 kbc;
	struct pm pm;
	struct debugport dbgport;
	struct reset_ctl resetctl;
	struct chipset chipset;
	struct rtc rtc;
	struct hpet hpet;         /* unless --no-hpet */
	struct fwcfg fwcfg;
	struct bochs bochs;
	struct vgatext vga;
	int serial_fd;            /* COM1 output, -1: dropped */
	const char *fw_auto_disk; /* --firmware auto was decided from this disk */
	uint64_t fw_base;         /* where the firmware image starts; 0: --kernel */
	struct net_spec nets[HAL_MAX_NICS];
	int nnets;
	uint8_t *smbios_file;     /* --smbios file=: the validated table, for every boot */
	size_t smbios_file_len;
	struct disk disks[HAL_MAX_DISKS]; /* --disk, open for all boots (pc_open_disks) */
	int ndisks;
	struct atapi_medium cdroms[HAL_MAX_CDROMS]; /* --cdrom media, open for all boots */
	int ncdroms;
	struct ahci *ahci;        /* this boot's controller, or NULL */
};

/* --net options parsed and default MACs given, once at start (board.c).
 * 0 or an exit code. */
int pc_nets(struct pc *pc);

/* The --disk host sides (files, snapshot layers, NBD connections), opened
 * once at start and kept across guest resets, so that a reboot keeps a
 * snapshot's writes and an NBD server's one connection; closed at exit
 * (board.c). pc_open_disks: 0 or an exit code (nothing left open). */
int pc_open_disks(struct pc *pc);
void pc_close_disks(struct pc *pc);
/* The AHCI port of boot device b (cfg->boot[b]): the AHCI devices take the
 * ports in command-line order; -1 for a virtio disk. The virtio disks take
 * slots from PC_DISK_SLOT0 in their own order (pc_virtio_slot). */
int pc_ahci_port(const struct config *c, int b);
int pc_virtio_slot(const struct config *c, int disk);
/* fw_cfg's "bootorder": one OpenFirmware path per line for every --disk and
 * --cdrom in command-line order (firmware.c). Its length, buf NUL-ended. */
uint32_t pc_bootorder(const struct config *c, char *buf, size_t n);

/* One boot of the machine: bring-up, run until the guest stops, tear-down
 * (board.c). Returns hal's exit code (core/exitcode.h). */
int pc_run(struct pc *pc);

/* firmware.c: what boots, and what it is given. */
/* --firmware auto and the checks of --firmware ovmf, once at start from
 * the first disk's label; sets cfg->firmware. 0 or an exit code. */
int pc_choose_firmware(struct pc *pc);
/* --smbios file=PATH read and validated, once at start. 0 or an exit code. */
int pc_load_smbios(struct pc *pc);
/* fw_cfg's items: memory map, CPUs, boot order and menu, ACPI tables with
 * the table-loader script. */
int pc_fwcfg_fill(struct pc *pc);
/* The firmware image into ROM at the top of 4 GiB (sets fw_base). */
int pc_load_firmware(struct pc *pc);
/* UEFI firmware: the variable store, as flash right below the image. */
bool pc_uefi(const struct pc *pc);
/* The boot CPU's first instruction: the reset vector, or the kernel that
 * --kernel loads into RAM with its boot parameters and ACPI tables. */
int pc_boot(struct pc *pc);
#endif
