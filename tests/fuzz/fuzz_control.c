/* The --control socket's command parser (host/control.c): the input as
 * command lines (split at newlines, as on_client splits what a client
 * sends), each answered into a reply buffer of the size on_client uses.
 * sendkey and type go to the input sink (none attached: nothing to press),
 * quit asks a VM that exists only as its run-control state to stop.
 * screendump is left out: it writes the file the client names. */
#include "fuzz.h"
#include "host/control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vm vm;
	if (!the_vm) {
		pthread_mutex_init(&vm.lock, NULL);
		vm.stop_fd = -1;
		the_vm = &vm;
	}
	vm.stopping = false;
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;
	char *save = NULL;
	for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *c = line + strspn(line, " \t");
		if (!strncmp(c, "screendump", 10))
			continue;
		char reply[511];
		control_command(line, reply, sizeof(reply));
	}
	free(s);
	return 0;
}
