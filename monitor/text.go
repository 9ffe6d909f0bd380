package monitor

import (
	"fmt"
	"io"
	"strings"
)

// WriteText writes the finding and its evidence for a human: every
// signed note in full, so that it can be checked with the log's key.
func (f *Finding) WriteText(w io.Writer) {
	fmt.Fprintf(w, "SECURITY ERROR: %s in %s: %s\n", f.Kind, f.Origin, f.Message)
	fmt.Fprintf(w, "  finding %s", f.ID)
	if f.Leaf != nil {
		fmt.Fprintf(w, ", leaf %d", *f.Leaf)
	}
	if f.Filename != "" {
		fmt.Fprintf(w, ", %s", f.Filename)
	}
	if f.Project != "" {
		fmt.Fprintf(w, ", project %s", f.Project)
	}
	fmt.Fprintln(w)
	ev := &f.Evidence
	if ev.OldCheckpoint != "" {
		fmt.Fprintf(w, "  checkpoint verified before:\n%s", indent(ev.OldCheckpoint))
		fmt.Fprintf(w, "  checkpoint served now:\n%s", indent(ev.Checkpoint))
	} else if ev.Checkpoint != "" {
		fmt.Fprintf(w, "  checkpoint:\n%s", indent(ev.Checkpoint))
	}
	if len(ev.Proof) > 0 {
		fmt.Fprintf(w, "  consistency proof that fails (from the log's tiles):\n%s", indent(strings.Join(ev.Proof, "\n")))
	}
	if ev.PeerCheckpoint != "" {
		fmt.Fprintf(w, "  checkpoint of the other log:\n%s", indent(ev.PeerCheckpoint))
	}
	for _, n := range ev.Notes {
		fmt.Fprintf(w, "  %s, as signed by the log:\n%s", n.Key, indent(n.Text))
	}
	for _, key := range ev.Absent {
		fmt.Fprintf(w, "  %s: the log has none (it lists nothing)\n", key)
	}
	for _, e := range ev.Entries {
		fmt.Fprintf(w, "  entry %d of %s (tree size %d):\n", e.Leaf, e.Origin, e.TreeSize)
		if e.EntryBase64 != nil {
			fmt.Fprintf(w, "%s", indent(fmt.Sprintf("%q", e.EntryBase64)))
		} else {
			fmt.Fprintf(w, "%s", indent(e.Entry))
		}
		if len(e.InclusionProof) > 0 {
			fmt.Fprintf(w, "    inclusion proof:\n%s", indent(strings.Join(e.InclusionProof, "\n")))
		}
	}
	if ev.PyPI != nil {
		fmt.Fprintf(w, "  PyPI (%s) serves %s\n", ev.PyPI.URL, ev.PyPI.SHA256)
	}
	if ev.Detail != "" {
		fmt.Fprintf(w, "  detail: %s\n", ev.Detail)
	}
}

// indent prefixes every line of text with a tab.
func indent(text string) string {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	return "\t" + strings.Join(lines, "\n\t") + "\n"
}
