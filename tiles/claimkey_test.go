package tiles

import (
	"strings"
	"testing"
)

func TestClaimKeys(t *testing.T) {
	id := [32]byte{0xab, 1}
	made := []string{
		ClaimIdentityKey("foo", 1),
		ClaimIdentityKey("foo-bar", MaxClaimIdentity),
		ClaimRecordKey("a", id),
		ClaimTokenKey("a0", id),
		ClaimFileKey("foo", "foo-1.0-py3-none-any.whl"),
		ClaimFileKey("foo-bar", "foo_bar-1!2.0+x.tar.gz"),
	}
	for _, key := range made {
		if !IsClaimKey(key) || !IsPublicKey(key) || CheckKey(key) != nil || IsImmutable(key) {
			t.Errorf("%q: IsClaimKey %v, IsPublicKey %v, CheckKey %v, IsImmutable %v", key, IsClaimKey(key), IsPublicKey(key), CheckKey(key), IsImmutable(key))
		}
		if MaxObjectSize(key) != MaxOtherSize {
			t.Errorf("MaxObjectSize(%q) = %d", key, MaxObjectSize(key))
		}
	}
	if got, want := ClaimIdentityKey("foo", 12), "claims/foo/identity/00000012"; got != want {
		t.Errorf("ClaimIdentityKey = %q, want %q", got, want)
	}
	project, kind, name, ok := ParseClaimKey("claims/foo-bar/file/foo_bar-1.0.tar.gz")
	if !ok || project != "foo-bar" || kind != ClaimFileKind || name != "foo_bar-1.0.tar.gz" {
		t.Errorf("ParseClaimKey = %q %q %q %v", project, kind, name, ok)
	}
	hex64 := strings.Repeat("0a", 32)
	bad := []string{
		"claims/", "claims/foo", "claims/foo/", "claims/foo/claim", "claims/foo/claim/",
		"claims/Foo/claim/" + hex64, "claims/foo_bar/claim/" + hex64, "claims/-a/claim/" + hex64,
		"claims/foo/claim/" + strings.ToUpper(hex64), "claims/foo/claim/" + hex64[2:], "claims/foo/claim/" + hex64 + "/x",
		"claims/foo/token/" + hex64 + "0",
		"claims/foo/identity/0", "claims/foo/identity/00000000", "claims/foo/identity/1", "claims/foo/identity/0000000x",
		"claims/foo/identity/000000001",
		"claims/foo/file/", "claims/foo/file/.foo", "claims/foo/file/..", "claims/foo/file/a/b", "claims/foo/file/a b",
		"claims/foo/file/caf\u00e9-1.0.tar.gz", "claims/foo/file/a\\b",
		"claims/foo/other/x", "claims/../log.key",
	}
	for _, key := range bad {
		if IsClaimKey(key) || IsPublicKey(key) {
			t.Errorf("%q: IsClaimKey %v, IsPublicKey %v, want false", key, IsClaimKey(key), IsPublicKey(key))
		}
	}
}
