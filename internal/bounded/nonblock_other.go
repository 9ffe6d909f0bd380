//go:build !js

package bounded

import "syscall"

// oNonblock is the open flag that keeps ReadFile's open of a named pipe
// from blocking.
const oNonblock = syscall.O_NONBLOCK
