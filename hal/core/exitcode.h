/* Exit codes of the hal process (docs/usage.md), shared with init, which
 * decides from them what the machine does next (docs/init.md). */
#ifndef EXITCODE_H
#define EXITCODE_H
enum hal_exit {
	HAL_EXIT_POWEROFF = 0, /* the guest powered off */
	HAL_EXIT_ERROR    = 1, /* bad input or a host failure, message printed */
	HAL_EXIT_USAGE    = 2, /* bad command line */
	HAL_EXIT_CRASH    = 3, /* triple fault or KVM internal error, registers printed */
	HAL_EXIT_RESET    = 4, /* the guest asked for a reset (reboot) */
	HAL_EXIT_SIGNAL   = 5, /* stopped by SIGINT/SIGTERM/SIGHUP */
};
#endif
