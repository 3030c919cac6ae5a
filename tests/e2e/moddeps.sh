# Sourced by the guest-disk builders (mkguestdisk.sh, mkuefidisk.sh):
# moddeps MDIR NAME... prints the module files (paths relative to MDIR)
# of NAMEs and their dependencies, each once, dependencies first
# (modules.dep lists a module's dependencies after it). Fails, naming it,
# on a module MDIR does not have.
moddeps() {
	_mdir=$1 _all=
	shift
	for _m in "$@"; do
		_line=$(grep -E "(^|/)$_m\.ko(\.[a-z]+)?:" "$_mdir/modules.dep" | head -n 1)
		[ -n "$_line" ] || { echo "moddeps: no module $_m in $_mdir" >&2; return 1; }
		_all="$_all $(echo "${_line#*:}" | tr ' ' '\n' | tac | tr '\n' ' ') ${_line%%:*}"
	done
	for _m in $_all; do echo "$_m"; done | awk '!seen[$0]++'
}
