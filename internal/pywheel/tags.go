package pywheel

import (
	"fmt"
	"strings"
)

// platforms maps a Go GOOS/GOARCH to the platform tags of its wheel, as a
// compressed tag set (PEP 425: the wheel installs where any of them
// holds).
//
// Linux: a Go binary built with CGO_ENABLED=0 is static, so it runs on
// any glibc (manylinux, PEP 600; manylinux2014 is the same tag's name for
// pip before 20.3) and on musl (musllinux, PEP 656). 2.17 is the oldest
// manylinux for aarch64, and older than any Linux Go still supports.
//
// macOS: Go 1.25 and later need macOS 12 Monterey (the binaries' minimum
// OS version, LC_BUILD_VERSION, is 12.0): an older tag would let pip
// install a binary that doesn't start. [CheckBinary] checks the binary
// against the tag.
var platforms = map[string][]string{
	"linux/amd64":   {"manylinux_2_17_x86_64", "manylinux2014_x86_64", "musllinux_1_2_x86_64"},
	"linux/arm64":   {"manylinux_2_17_aarch64", "manylinux2014_aarch64", "musllinux_1_2_aarch64"},
	"darwin/amd64":  {"macosx_12_0_x86_64"},
	"darwin/arm64":  {"macosx_12_0_arm64"},
	"windows/amd64": {"win_amd64"},
	"windows/arm64": {"win_arm64"},
}

// macOSMinimum is the macOS version the darwin tags claim, major and
// minor.
var macOSMinimum = [2]uint32{12, 0}

// PlatformTag is the platform part of the wheel's tag for a binary of
// goos/goarch: a compressed tag set such as
// "manylinux_2_17_x86_64.manylinux2014_x86_64.musllinux_1_2_x86_64".
func PlatformTag(goos, goarch string) (string, error) {
	p, ok := platforms[goos+"/"+goarch]
	if !ok {
		return "", fmt.Errorf("no wheel platform tag for %s/%s (known: linux, darwin and windows on amd64 and arm64)", goos, goarch)
	}
	return strings.Join(p, "."), nil
}

// Tags are the full tags (py3-none-<platform>) of the wheel for
// goos/goarch, one per platform of its compressed tag set, as WHEEL lists
// them.
func Tags(goos, goarch string) ([]string, error) {
	if _, err := PlatformTag(goos, goarch); err != nil {
		return nil, err
	}
	var tags []string
	for _, p := range platforms[goos+"/"+goarch] {
		tags = append(tags, "py3-none-"+p)
	}
	return tags, nil
}
