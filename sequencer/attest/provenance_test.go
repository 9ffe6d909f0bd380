package attest

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/tiles"
)

// document decodes a provenance file into generic JSON values that tests
// can edit.
func document(t testing.TB, data []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func firstBundle(doc map[string]any) map[string]any {
	return doc["attestation_bundles"].([]any)[0].(map[string]any)
}

func firstAttestation(doc map[string]any) map[string]any {
	return firstBundle(doc)["attestations"].([]any)[0].(map[string]any)
}

func material(doc map[string]any) map[string]any {
	return firstAttestation(doc)["verification_material"].(map[string]any)
}

func TestParseProvenanceRejects(t *testing.T) {
	real := goldenProvenances[0].read(t)
	edits := []struct {
		name    string
		edit    func(doc map[string]any)
		wantErr string
	}{
		{"unknown top-level field", func(d map[string]any) { d["signed"] = true }, `unknown field "signed"`},
		{"unknown bundle field", func(d map[string]any) { firstBundle(d)["extra"] = 1 }, `unknown field "extra"`},
		{"unknown publisher field", func(d map[string]any) { firstBundle(d)["publisher"].(map[string]any)["claims"] = map[string]any{} }, `unknown field "claims"`},
		{"unknown attestation field", func(d map[string]any) { firstAttestation(d)["extra"] = 1 }, `unknown field "extra"`},
		{"unknown envelope field", func(d map[string]any) { firstAttestation(d)["envelope"].(map[string]any)["payloadType"] = "x" }, `unknown field "payloadType"`},
		{"unknown verification material field", func(d map[string]any) { material(d)["chain"] = []any{} }, `unknown field "chain"`},
		{"unknown transparency entry field", func(d map[string]any) {
			material(d)["transparency_entries"].([]any)[0].(map[string]any)["extra"] = 1
		}, "transparency entry 0"},
		{"version 2", func(d map[string]any) { d["version"] = 2 }, "provenance version 2, want 1"},
		{"version as a string", func(d map[string]any) { d["version"] = "1" }, "couldn't decode provenance"},
		{"no version", func(d map[string]any) { delete(d, "version") }, "provenance version 0, want 1"},
		{"attestation version 2", func(d map[string]any) { firstAttestation(d)["version"] = 2 }, "attestation version 2, want 1"},
		{"no bundles", func(d map[string]any) { d["attestation_bundles"] = []any{} }, "no attestation bundles"},
		{"null bundles", func(d map[string]any) { d["attestation_bundles"] = nil }, "no attestation bundles"},
		{"no attestations", func(d map[string]any) { firstBundle(d)["attestations"] = []any{} }, "bundle 0 has no attestations"},
		{"unsupported publisher kind", func(d map[string]any) { firstBundle(d)["publisher"] = map[string]any{"kind": "ActiveState"} }, `publisher kind "ActiveState"`},
		{"publisher kind in lower case", func(d map[string]any) { firstBundle(d)["publisher"].(map[string]any)["kind"] = "github" }, `publisher kind "github"`},
		{"no publisher", func(d map[string]any) { delete(firstBundle(d), "publisher") }, `publisher kind ""`},
		{"GitHub publisher without workflow", func(d map[string]any) { delete(firstBundle(d)["publisher"].(map[string]any), "workflow") }, "GitHub publisher has no workflow"},
		{"GitHub publisher with an empty repository", func(d map[string]any) { firstBundle(d)["publisher"].(map[string]any)["repository"] = "" }, "GitHub publisher has no repository"},
		{"GitHub publisher with an email", func(d map[string]any) { firstBundle(d)["publisher"].(map[string]any)["email"] = "a@b.c" }, "GitHub publisher has unexpected field email"},
		{"Google publisher with an environment", func(d map[string]any) {
			firstBundle(d)["publisher"] = map[string]any{"kind": "Google", "email": "a@b.c", "environment": "prod"}
		}, "Google publisher has unexpected field environment"},
		{"GitLab publisher with a GitHub workflow", func(d map[string]any) {
			firstBundle(d)["publisher"] = map[string]any{"kind": "GitLab", "repository": "a/b", "workflow": "release.yml"}
		}, "GitLab publisher has unexpected field workflow"},
		{"statement not base64", func(d map[string]any) { firstAttestation(d)["envelope"].(map[string]any)["statement"] = "{}" }, "couldn't decode envelope.statement"},
		{"empty signature", func(d map[string]any) { firstAttestation(d)["envelope"].(map[string]any)["signature"] = "" }, "envelope.signature is missing or empty"},
		{"no certificate", func(d map[string]any) { delete(material(d), "certificate") }, "verification_material.certificate is missing or empty"},
		{"non-canonical base64", func(d map[string]any) { firstAttestation(d)["envelope"].(map[string]any)["signature"] = "AB==" }, "couldn't decode envelope.signature"},
		{"base64 with a line break", func(d map[string]any) {
			m := material(d)
			cert := m["certificate"].(string)
			m["certificate"] = cert[:64] + "\n" + cert[64:]
		}, "verification_material.certificate contains a line break"},
		{"no transparency entries", func(d map[string]any) { material(d)["transparency_entries"] = []any{} }, "no transparency log entries"},
		{"null transparency entry", func(d map[string]any) { material(d)["transparency_entries"] = []any{nil} }, "transparency entry 0"},
		{"timestamp not base64", func(d map[string]any) { material(d)["timestamps"] = []any{"not base64"} }, "couldn't decode verification_material.timestamps[0]"},
	}
	for _, e := range edits {
		t.Run(e.name, func(t *testing.T) {
			doc := document(t, real)
			e.edit(doc)
			data, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			checkRejected(t, data, e.wantErr)
		})
	}

	raw := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"duplicate top-level key", append([]byte(`{"version":1,`), real[1:]...), `duplicate key "version"`},
		{"duplicate publisher key", bytes.Replace(real, []byte(`"kind":"GitHub"`), []byte(`"kind":"GitHub","kind":"Google"`), 1), `duplicate key "kind"`},
		{"trailing data", append(bytes.Clone(real), "{}"...), "data after the JSON value"},
		{"two documents", append(bytes.Clone(real), real...), "data after the JSON value"},
		{"not JSON", []byte("<html>Not Found</html>"), "couldn't decode provenance"},
		{"empty", nil, "couldn't decode provenance"},
		{"null", []byte("null"), "provenance version 0, want 1"},
		{"too large", bytes.Repeat([]byte(" "), MaxProvenanceSize+1), "exceeds"},
	}
	for _, r := range raw {
		t.Run(r.name, func(t *testing.T) { checkRejected(t, r.data, r.wantErr) })
	}
}

func checkRejected(t *testing.T, data []byte, wantErr string) {
	t.Helper()
	_, err := ParseProvenance(data)
	if !errors.Is(err, ErrInvalidAttestation) {
		t.Fatalf("err = %v, want ErrInvalidAttestation", err)
	}
	if !strings.Contains(err.Error(), wantErr) {
		t.Errorf("err = %v, want it to contain %q", err, wantErr)
	}
}

// TestParseProvenanceAccepts checks forms PyPI may serve that differ from
// the real files in ways the format allows.
func TestParseProvenanceAccepts(t *testing.T) {
	real := goldenProvenances[0].read(t)
	edits := []struct {
		name string
		edit func(doc map[string]any)
		want ProvenancePublisher
	}{
		{"re-encoded", func(map[string]any) {}, goldenProvenances[0].publisher},
		{"GitHub environment set", func(d map[string]any) { firstBundle(d)["publisher"].(map[string]any)["environment"] = "pypi" },
			ProvenancePublisher{Kind: "GitHub", Repository: "trailofbits/pypi-attestations", Workflow: "release.yml", Environment: "pypi"}},
		{"GitHub environment absent", func(d map[string]any) { delete(firstBundle(d)["publisher"].(map[string]any), "environment") },
			goldenProvenances[0].publisher},
	}
	for _, e := range edits {
		t.Run(e.name, func(t *testing.T) {
			doc := document(t, real)
			e.edit(doc)
			data, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			p, err := ParseProvenance(data)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Bundles[0].Publisher; got != e.want {
				t.Errorf("publisher %+v, want %+v", got, e.want)
			}
		})
	}
}

func TestVerifyRejectsEmptyProvenance(t *testing.T) {
	v := pinnedVerifier(t)
	g := goldenProvenances[0]
	for _, p := range []*Provenance{nil, {}, {Bundles: []AttestationBundle{{Publisher: g.publisher}}}} {
		if _, err := v.Verify(p, g.filename(), g.digest(t)); !errors.Is(err, ErrInvalidAttestation) {
			t.Errorf("Verify(%+v): err = %v, want ErrInvalidAttestation", p, err)
		}
	}
}

// FuzzParseProvenance checks that no input makes ParseProvenance or
// Verify panic, that both only fail with ErrInvalidAttestation, and that
// what they accept is well formed.
func FuzzParseProvenance(f *testing.F) {
	for _, g := range goldenProvenances {
		f.Add(g.read(f))
	}
	f.Add([]byte(`{"version":1,"attestation_bundles":[{"publisher":{"kind":"Google","email":"a@b.c"},"attestations":[]}]}`))
	f.Add([]byte(`{"version":1,"attestation_bundles":[{"publisher":{"kind":"GitLab","repository":"a/b","workflow_filepath":".gitlab-ci.yml","environment":null},` +
		`"attestations":[{"version":1,"envelope":{"statement":"e30=","signature":"AA=="},"verification_material":{"certificate":"AA==","transparency_entries":[{}],"timestamps":["AA=="]}}]}]}`))
	v := pinnedVerifier(f)
	g := goldenProvenances[0]
	digest := g.digest(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProvenance(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidAttestation) {
				t.Fatalf("ParseProvenance error %v does not wrap ErrInvalidAttestation", err)
			}
			return
		}
		if len(p.Bundles) == 0 {
			t.Fatal("accepted a provenance without bundles")
		}
		for _, b := range p.Bundles {
			if len(b.Attestations) == 0 {
				t.Fatal("accepted a bundle without attestations")
			}
			for _, a := range b.Attestations {
				if len(a.Statement) == 0 || len(a.Signature) == 0 || len(a.Certificate) == 0 || len(a.TransparencyEntries) == 0 {
					t.Fatalf("accepted an incomplete attestation %+v", a)
				}
			}
		}
		publisher, err := v.Verify(p, g.filename(), digest)
		if err != nil {
			if !errors.Is(err, ErrInvalidAttestation) {
				t.Fatalf("Verify error %v does not wrap ErrInvalidAttestation", err)
			}
			return
		}
		if err := tiles.CheckPublisher(publisher); err != nil {
			t.Fatalf("Verify returned a publisher that can't be logged: %v", err)
		}
	})
}
