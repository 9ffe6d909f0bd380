package pywheel

import (
	"bytes"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"fmt"
)

// loadCmdBuildVersion is Mach-O's LC_BUILD_VERSION, which holds the
// minimum OS version.
const loadCmdBuildVersion macho.LoadCmd = 0x32

// CheckBinary checks that data is an executable for goos/goarch (ELF,
// Mach-O or PE, of the right machine), so that a wheel never carries the
// binary of another platform than its tag says; and, for macOS, that the
// binary runs on the oldest macOS the tag admits.
func CheckBinary(goos, goarch string, data []byte) error {
	if _, err := PlatformTag(goos, goarch); err != nil {
		return err
	}
	r := bytes.NewReader(data)
	switch goos {
	case "linux":
		f, err := elf.NewFile(r)
		if err != nil {
			return fmt.Errorf("not a Linux executable (ELF): %w", err)
		}
		want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[goarch]
		if f.Machine != want || f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
			return fmt.Errorf("the ELF file is a %v for %v, want an executable for %v (%s)", f.Type, f.Machine, want, goarch)
		}
	case "darwin":
		f, err := macho.NewFile(r)
		if err != nil {
			return fmt.Errorf("not a macOS executable (Mach-O): %w", err)
		}
		want := map[string]macho.Cpu{"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64}[goarch]
		if f.Cpu != want || f.Type != macho.TypeExec {
			return fmt.Errorf("the Mach-O file is a %v for %v, want an executable for %v (%s)", f.Type, f.Cpu, want, goarch)
		}
		return checkMacOSMinimum(f)
	case "windows":
		f, err := pe.NewFile(r)
		if err != nil {
			return fmt.Errorf("not a Windows executable (PE): %w", err)
		}
		want := map[string]uint16{"amd64": pe.IMAGE_FILE_MACHINE_AMD64, "arm64": pe.IMAGE_FILE_MACHINE_ARM64}[goarch]
		if f.Machine != want || f.Characteristics&pe.IMAGE_FILE_EXECUTABLE_IMAGE == 0 {
			return fmt.Errorf("the PE file is for machine %#x (characteristics %#x), want an executable for %#x (%s)", f.Machine, f.Characteristics, want, goarch)
		}
	}
	return nil
}

// checkMacOSMinimum checks that the binary's minimum macOS version
// (LC_BUILD_VERSION's minos) is no later than the wheel's tag says.
func checkMacOSMinimum(f *macho.File) error {
	for _, l := range f.Loads {
		raw := l.Raw()
		if len(raw) < 16 || macho.LoadCmd(f.ByteOrder.Uint32(raw)) != loadCmdBuildVersion {
			continue
		}
		// struct build_version_command { cmd, cmdsize, platform, minos, … }
		// minos is xxxx.yy.zz in nibbles: 0x000c0000 is 12.0.0.
		minos := f.ByteOrder.Uint32(raw[12:16])
		major, minor := minos>>16, minos>>8&0xff
		if major > macOSMinimum[0] || major == macOSMinimum[0] && minor > macOSMinimum[1] {
			return fmt.Errorf("the binary needs macOS %d.%d, later than the wheel's tag (macOS %d.%d): update the tags in pywheel", major, minor, macOSMinimum[0], macOSMinimum[1])
		}
		return nil
	}
	return nil
}
