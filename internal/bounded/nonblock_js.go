package bounded

// oNonblock is 0 under js/wasm, whose syscall package has no O_NONBLOCK.
// The only js/wasm program, the web page's verifier, reads no files: in a
// browser the file system is wasm_exec.js's stub, which fails every call.
const oNonblock = 0
