package sequencer

import (
	"bytes"
	"encoding/json"
	"testing"
)

func BenchmarkReadJSONL(b *testing.B) {
	var buf bytes.Buffer
	for _, r := range SyntheticRecords(0, 10_000) {
		line, _ := json.Marshal(r)
		buf.Write(line)
		buf.WriteByte('\n')
	}
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		if _, err := ReadJSONL(bytes.NewReader(buf.Bytes()), "bench"); err != nil {
			b.Fatal(err)
		}
	}
}
