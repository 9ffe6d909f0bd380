package witnesstest

import "syscall"

// procAttr makes a witness die with the test process (on Linux), even one
// that never runs its cleanups: a test binary killed by -timeout, say.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
