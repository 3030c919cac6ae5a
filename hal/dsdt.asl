/*
 * hal's DSDT, compiled by iasl at build time into build/gen/dsdt.hex.
 * The FADT and MADT are generated at VM start (hal/acpi.c); this table holds
 * what is fixed: how to power off.
 */
DefinitionBlock ("dsdt.aml", "DSDT", 1, "HAL   ", "HALDSDT ", 1)
{
    /* S5 soft-off: SLP_TYP 0 in PM1a_CNT (hal/pm.c powers off on SLP_EN). */
    Name (\_S5, Package (4) { Zero, Zero, Zero, Zero })
}
