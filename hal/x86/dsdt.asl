/*
 * hal's DSDT, compiled by iasl at build time into build/gen/dsdt.hex.
 * The FADT and MADT are generated at VM start (hal/x86/acpi.c); this table holds
 * what is fixed: the PCI root bridge with its resources and INTx routing,
 * and how to power off.
 */
DefinitionBlock ("dsdt.aml", "DSDT", 1, "HAL   ", "HALDSDT ", 1)
{
    Scope (\_SB)
    {
        /* The HPET (hal/hw/hpet.c). acpi.c sets _STA to 0 with --no-hpet;
         * the ACPI HPET table is what Linux and Windows use to find it. */
        Device (HPET)
        {
            Name (_HID, EisaId ("PNP0103"))
            Name (_UID, Zero)
            Name (_STA, 0x0F)
            Name (_CRS, ResourceTemplate ()
            {
                Memory32Fixed (ReadOnly, 0xFED00000, 0x00000400)
            })
        }

        Device (PCI0)
        {
            Name (_HID, EisaId ("PNP0A03"))
            Name (_UID, Zero)
            Name (_BBN, Zero)
            /* Must match hal/core/hal.h: RAM below 4 GiB ends by 2 GiB, PCI MMIO
             * goes from there to the IOAPIC. */
            Name (_CRS, ResourceTemplate ()
            {
                WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
                    0x0000, 0x0000, 0x00FF, 0x0000, 0x0100)
                IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08)
                WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                    0x0000, 0x0000, 0x0CF7, 0x0000, 0x0CF8)
                WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                    0x0000, 0x0D00, 0xFFFF, 0x0000, 0xF300)
                DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite,
                    0x00000000, 0x000A0000, 0x000BFFFF, 0x00000000, 0x00020000)
                DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
                    0x00000000, 0x80000000, 0xFEBFFFFF, 0x00000000, 0x7EC00000)
            })

            /* The ISA bridge (00:01.0) and the legacy devices behind it.
             * SeaBIOS only drives the PS/2 keyboard when the DSDT lists it. */
            Device (ISA)
            {
                Name (_ADR, 0x00010000)
                Device (KBD)
                {
                    Name (_HID, EisaId ("PNP0303"))
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x0060, 0x0060, 0x01, 0x01)
                        IO (Decode16, 0x0064, 0x0064, 0x01, 0x01)
                        IRQNoFlags () {1}
                    })
                }
                Device (MOU)
                {
                    Name (_HID, EisaId ("PNP0F13"))
                    Name (_CRS, ResourceTemplate () { IRQNoFlags () {12} })
                }
                Device (RTC)
                {
                    Name (_HID, EisaId ("PNP0B00"))
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x0070, 0x0070, 0x01, 0x02)
                        IRQNoFlags () {8}
                    })
                }
                Device (COM1)
                {
                    Name (_HID, EisaId ("PNP0501"))
                    Name (_UID, One)
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08)
                        IRQNoFlags () {4}
                    })
                }
            }

            /* INTx: slot s, pin p (0 = INTA) -> PIRQ (s - 1 + p) & 3, and the
             * PIRQs go to IRQs 10, 10, 11, 11 as both SeaBIOS and OVMF program
             * them (hal presets the same for direct boot). */
            Name (IRQS, Package (4) { 10, 10, 11, 11 })
            Method (_PRT, 0, NotSerialized)
            {
                Local0 = Package (0x80) {}
                Local1 = Zero
                While (Local1 < 0x80)
                {
                    Local2 = Package (4) { Zero, Zero, Zero, Zero }
                    Local2 [0] = ((Local1 >> 2) << 16) | 0xFFFF
                    Local2 [1] = Local1 & 3
                    Local2 [3] = DerefOf (IRQS [((Local1 >> 2) + (Local1 & 3) - 1) & 3])
                    Local0 [Local1] = Local2
                    Local1++
                }
                Return (Local0)
            }
        }
    }

    /* S5 soft-off: SLP_TYP 0 in PM1a_CNT (hal/hw/pm.c powers off on SLP_EN). */
    Name (\_S5, Package (4) { Zero, Zero, Zero, Zero })
}
