package publish

// DisableAnonymousFiles makes d's group writes use named temporary files,
// as on systems without O_TMPFILE.
func DisableAnonymousFiles(d *Dir) { d.noAnonymous.Store(true) }

// UsesAnonymousFiles reports whether d's group writes use files without a
// name.
func UsesAnonymousFiles(d *Dir) bool { return !d.noAnonymous.Load() }
