package web

// The page's WebAssembly verifier (web/wasm) and the JavaScript support
// of the toolchain that built it, which must match. TestWASMUpToDate
// checks both: run go generate ./web after changing the verifier, the
// packages it uses, or the Go version.
//go:generate env GOOS=js GOARCH=wasm go build -trimpath -buildvcs=false "-ldflags=-s -w" -o static/pysumdb.wasm ./wasm
//go:generate cp $GOROOT/lib/wasm/wasm_exec.js static/wasm_exec.js
