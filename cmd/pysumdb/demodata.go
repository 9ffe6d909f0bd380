//go:build !pysumdb_client

package main

import _ "embed"

// demoFiles are the real PyPI files the demo's PyPI serves (see
// demodata/README.md).
//
//go:embed demodata/pypi-files.jsonl
var demoFiles []byte
