package export

import (
	"errors"
	"fmt"
)

// Parquet's metadata is Thrift, in its compact protocol. parquet-go's
// decoder believes the sizes it reads: a list claiming two billion
// elements is allocated before a byte of it is read. checkThrift walks the
// encoding first, checking that no list, set, map or string claims more
// than the bytes left could hold, that nesting is shallow, and that all of
// the elements together stay within a budget, so that decoding what it
// accepts allocates in proportion to the input.

const (
	// maxThriftDepth bounds nesting (Parquet's own needs a few levels).
	maxThriftDepth = 32
	// maxThriftElements bounds the elements of all of the lists, sets
	// and maps of one encoded value. A file's footer needs about 30 a row
	// group.
	maxThriftElements = 1 << 18
)

// errThriftShort is checkThrift's error when the value runs past the end
// of its bytes.
var errThriftShort = errors.New("thrift value runs past its end")

// thriftWalker walks a compact-protocol encoding.
type thriftWalker struct {
	b        []byte
	off      int
	elements int
}

// checkThrift checks the struct encoded at the start of b, returning its
// length.
func checkThrift(b []byte) (int, error) {
	w := thriftWalker{b: b}
	if err := w.structure(0); err != nil {
		return 0, err
	}
	return w.off, nil
}

func (w *thriftWalker) left() int { return len(w.b) - w.off }

func (w *thriftWalker) byte() (byte, error) {
	if w.off >= len(w.b) {
		return 0, errThriftShort
	}
	c := w.b[w.off]
	w.off++
	return c, nil
}

func (w *thriftWalker) uvarint() (uint64, error) {
	var v uint64
	for shift := 0; shift < 64; shift += 7 {
		c, err := w.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, nil
		}
	}
	return 0, errors.New("thrift varint overflows")
}

func (w *thriftWalker) skip(n uint64) error {
	if n > uint64(w.left()) {
		return errThriftShort
	}
	w.off += int(n)
	return nil
}

// count adds n elements, each of at least min bytes, to the budget.
func (w *thriftWalker) count(n uint64, min int) error {
	if n > uint64(w.left()/min) {
		return errThriftShort
	}
	w.elements += int(n)
	if w.elements > maxThriftElements {
		return fmt.Errorf("thrift value has more than %d elements", maxThriftElements)
	}
	return nil
}

func (w *thriftWalker) structure(depth int) error {
	if depth > maxThriftDepth {
		return fmt.Errorf("thrift value nested more than %d deep", maxThriftDepth)
	}
	for {
		c, err := w.byte()
		if err != nil {
			return err
		}
		if c == 0 { // STOP
			return nil
		}
		if c>>4 == 0 { // the field id follows, as a zigzag varint
			if _, err := w.uvarint(); err != nil {
				return err
			}
		}
		if err := w.value(c&0x0f, depth+1, false); err != nil {
			return err
		}
	}
}

// value skips a value of type t; a boolean is in its field's type but a
// byte of its own in a container.
func (w *thriftWalker) value(t byte, depth int, inContainer bool) error {
	switch t {
	case 1, 2: // true, false
		if inContainer {
			return w.skip(1)
		}
		return nil
	case 3: // i8
		return w.skip(1)
	case 4, 5, 6: // i16, i32, i64
		_, err := w.uvarint()
		return err
	case 7: // double
		return w.skip(8)
	case 8: // binary
		n, err := w.uvarint()
		if err != nil {
			return err
		}
		return w.skip(n)
	case 9, 10: // list, set
		if depth > maxThriftDepth {
			return fmt.Errorf("thrift value nested more than %d deep", maxThriftDepth)
		}
		c, err := w.byte()
		if err != nil {
			return err
		}
		n, et := uint64(c>>4), c&0x0f
		if n == 15 {
			if n, err = w.uvarint(); err != nil {
				return err
			}
		}
		if err := w.count(n, 1); err != nil {
			return err
		}
		for range n {
			if err := w.value(et, depth+1, true); err != nil {
				return err
			}
		}
		return nil
	case 11: // map
		if depth > maxThriftDepth {
			return fmt.Errorf("thrift value nested more than %d deep", maxThriftDepth)
		}
		n, err := w.uvarint()
		if err != nil || n == 0 {
			return err
		}
		c, err := w.byte()
		if err != nil {
			return err
		}
		if err := w.count(n, 2); err != nil {
			return err
		}
		for range n {
			if err := w.value(c>>4, depth+1, true); err != nil {
				return err
			}
			if err := w.value(c&0x0f, depth+1, true); err != nil {
				return err
			}
		}
		return nil
	case 12: // struct
		return w.structure(depth)
	case 13: // uuid
		return w.skip(16)
	default:
		return fmt.Errorf("thrift type %d", t)
	}
}
