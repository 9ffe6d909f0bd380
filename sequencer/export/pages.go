package export

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// parquet-go believes what a page says about itself: the sizes and counts
// of its header, the lengths of the runs of its levels and dictionary
// indexes, the counts and lengths of its delta encodings. It allocates by
// them before it finds out whether they are true, and a corrupt page can
// make it allocate gigabytes. So before a row group is read, each of its
// pages is read and checked here: its header within bounds and the page
// within its column chunk; its data decompressing to no more than the
// header says; its levels and values, as far as they are encoded in runs
// or deltas, holding no more values than the header says; lengths summing
// to no more than the bytes that hold them. What parquet-go then allocates
// is in proportion to the page. This costs reading and decompressing each
// page twice.

// scanChunk checks the pages of row group g's column c.
func (s *parquetSource) scanChunk(g, c int) error {
	md := &s.meta.RowGroups[g].Columns[c].MetaData
	e := &s.meta.Schema[c+1]
	bad := func(msg string, args ...any) error {
		return s.bad("row group %d, column %q: "+msg, append([]any{g, e.Name}, args...)...)
	}
	optional := e.RepetitionType.V == format.Optional
	pos, end := chunkStart(md), chunkStart(md)+md.TotalCompressedSize
	var values int64
	for page := 0; pos < end; page++ {
		header, hlen, err := s.readPageHeader(pos, end)
		if err != nil {
			return bad("page %d: %v", page, err)
		}
		pos += int64(hlen)
		if header.CompressedPageSize < 0 || header.UncompressedPageSize < 0 ||
			header.CompressedPageSize > maxPage || header.UncompressedPageSize > maxPage {
			return bad("page %d of %d bytes (%d uncompressed), more than %d", page, header.CompressedPageSize, header.UncompressedPageSize, maxPage)
		}
		if int64(header.CompressedPageSize) > end-pos {
			return bad("page %d runs past the column's end", page)
		}
		p := pageInfo{header: header, codec: md.Codec, optional: optional}
		if err := p.describe(page); err != nil {
			return bad("%v", err)
		}
		values += int64(p.values)
		if values > md.NumValues {
			return bad("pages hold more than the column's %d values", md.NumValues)
		}
		body := grow(&s.page, int(header.CompressedPageSize))
		if _, err := s.f.ReadAt(body, pos); err != nil {
			return bad("page %d: couldn't read it: %v", page, err)
		}
		if err := s.checkPage(&p, body); err != nil {
			return bad("page %d: %v", page, err)
		}
		pos += int64(header.CompressedPageSize)
	}
	if values != md.NumValues {
		return bad("pages hold %d values, the column %d", values, md.NumValues)
	}
	return nil
}

// pageInfo is what a page's header says about it.
type pageInfo struct {
	header   *format.PageHeader
	codec    format.CompressionCodec
	optional bool

	// values is the page's number of values, nulls included (none for a
	// dictionary), nonNull the most of them that can be other than NULL,
	// entries those of a dictionary.
	values, nonNull, entries int32
	// encoding is how its values are encoded.
	encoding format.Encoding
	// levels is the length of a v2 data page's levels (not compressed).
	levels int32
	// compressed is whether the rest is compressed.
	compressed bool
}

// describe sets p from its header, checking what parquet-go allocates by.
func (p *pageInfo) describe(page int) error {
	h := p.header
	p.compressed = p.codec != format.Uncompressed
	switch h.Type {
	case format.DictionaryPage:
		if page != 0 || !h.DictionaryPageHeader.Valid {
			return fmt.Errorf("page %d is a misplaced dictionary", page)
		}
		p.entries = h.DictionaryPageHeader.V.NumValues
		p.encoding = h.DictionaryPageHeader.V.Encoding
	case format.DataPage:
		if !h.DataPageHeader.Valid {
			return fmt.Errorf("page %d has no data page header", page)
		}
		p.values = h.DataPageHeader.V.NumValues
		p.nonNull = p.values
		p.encoding = h.DataPageHeader.V.Encoding
	case format.DataPageV2:
		v := &h.DataPageHeaderV2
		if !v.Valid {
			return fmt.Errorf("page %d has no data page header", page)
		}
		p.values = v.V.NumValues
		if v.V.NumNulls < 0 || v.V.NumNulls > p.values || v.V.NumRows < 0 || v.V.NumRows > p.values ||
			v.V.RepetitionLevelsByteLength < 0 || v.V.DefinitionLevelsByteLength < 0 {
			return fmt.Errorf("page %d: inconsistent data page header", page)
		}
		p.nonNull = p.values - v.V.NumNulls
		p.encoding = v.V.Encoding
		levels := int64(v.V.RepetitionLevelsByteLength) + int64(v.V.DefinitionLevelsByteLength)
		if levels > int64(h.CompressedPageSize) {
			return fmt.Errorf("page %d: levels longer than the page", page)
		}
		p.levels = int32(levels)
		p.compressed = p.compressed && (!v.V.IsCompressed.Valid || v.V.IsCompressed.V)
	default:
		return fmt.Errorf("page %d is of type %s", page, h.Type)
	}
	if n := max(p.values, p.entries); n < 0 || n > maxPageValues {
		return fmt.Errorf("page %d has %d values", page, n)
	}
	return nil
}

// readPageHeader reads the header of the page at pos, in a chunk ending
// at end, returning it and its length.
func (s *parquetSource) readPageHeader(pos, end int64) (*format.PageHeader, int, error) {
	for window := int64(16 << 10); ; window *= 8 {
		window = min(window, end-pos, maxPageHeader)
		b := grow(&s.header, int(window))
		if _, err := s.f.ReadAt(b, pos); err != nil {
			return nil, 0, fmt.Errorf("couldn't read its header: %v", err)
		}
		n, err := checkThrift(b)
		if err == errThriftShort && window < min(end-pos, maxPageHeader) {
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("corrupt header: %v", err)
		}
		header := new(format.PageHeader)
		if err := thrift.Unmarshal(new(thrift.CompactProtocol), b[:n], header); err != nil {
			return nil, 0, fmt.Errorf("corrupt header: %v", err)
		}
		return header, n, nil
	}
}

// grow returns *buf resized to n bytes, reallocating it if it is too
// small.
func grow(buf *[]byte, n int) []byte {
	if cap(*buf) < n {
		*buf = make([]byte, n)
	}
	return (*buf)[:n]
}

// checkPage checks the levels and values of page p, whose bytes are body.
func (s *parquetSource) checkPage(p *pageInfo, body []byte) error {
	h := p.header
	limit := int(h.UncompressedPageSize)
	switch h.Type {
	case format.DictionaryPage:
		data, err := s.decompress(p, body, limit)
		if err != nil {
			return err
		}
		return checkValues(p.encoding, true, data, p.entries)
	case format.DataPage:
		data, err := s.decompress(p, body, limit)
		if err != nil {
			return err
		}
		if p.optional {
			// Version 1 levels are preceded by their length (parquet-go
			// reads them so whatever their encoding).
			if len(data) < 4 {
				return errors.New("no definition levels")
			}
			n := int64(binary.LittleEndian.Uint32(data))
			if n > int64(len(data)-4) {
				return errors.New("definition levels longer than the page")
			}
			if h.DataPageHeader.V.DefinitionLevelEncoding == format.RLE {
				if err := checkRuns(data[4:4+n], 1, p.values); err != nil {
					return fmt.Errorf("definition levels: %v", err)
				}
			}
			data = data[4+n:]
		}
		return checkValues(p.encoding, false, data, p.nonNull)
	default: // format.DataPageV2
		v := &h.DataPageHeaderV2.V
		if p.optional {
			levels := body[v.RepetitionLevelsByteLength:p.levels]
			if err := checkRuns(levels, 1, p.values); err != nil {
				return fmt.Errorf("definition levels: %v", err)
			}
		}
		data, err := s.decompress(p, body[p.levels:], limit)
		if err != nil {
			return err
		}
		return checkValues(p.encoding, false, data, p.nonNull)
	}
}

// decompress returns data decompressed, if p's is, checking that it
// decompresses to at most limit bytes.
func (s *parquetSource) decompress(p *pageInfo, data []byte, limit int) ([]byte, error) {
	if !p.compressed || len(data) == 0 {
		return data, nil
	}
	tooBig := fmt.Errorf("decompresses to more than its %d bytes", limit)
	switch p.codec {
	case format.Snappy:
		// A snappy block begins with its decompressed length.
		if n, k := binary.Uvarint(data); k <= 0 || n > uint64(limit) {
			return nil, tooBig
		}
		out, err := snappy.Decode(grow(&s.plain, limit), data)
		if err != nil {
			return nil, fmt.Errorf("corrupt snappy data: %v", err)
		}
		return out, nil
	case format.Gzip:
		z, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("corrupt gzip data: %v", err)
		}
		out := grow(&s.plain, limit+1)
		n, err := io.ReadFull(z, out)
		switch {
		case err == nil:
			return nil, tooBig
		case err != io.EOF && err != io.ErrUnexpectedEOF:
			return nil, fmt.Errorf("corrupt gzip data: %v", err)
		}
		// The rest of the stream, checked as parquet-go reads it.
		if _, err := io.Copy(io.Discard, z); err != nil {
			return nil, fmt.Errorf("corrupt gzip data: %v", err)
		}
		return out[:n], nil
	case format.Zstd:
		if s.zstd == nil {
			d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxPage), zstd.WithDecoderMaxWindow(maxPage))
			if err != nil {
				return nil, err
			}
			s.zstd = d
		}
		out, err := s.zstd.DecodeAll(data, s.plain[:0])
		if err != nil {
			return nil, fmt.Errorf("corrupt zstd data: %v", err)
		}
		if cap(out) > cap(s.plain) {
			s.plain = out
		}
		if len(out) > limit {
			return nil, tooBig
		}
		return out, nil
	}
	return nil, fmt.Errorf("compression %s", p.codec)
}

// checkRuns checks RLE/bit-packed hybrid runs of values of bitWidth bits,
// as levels and dictionary indexes are encoded: parquet-go allocates the
// values of a run as it reads its header, so they must be no more than the
// n the page holds (but for the padding of a last bit-packed run).
func checkRuns(src []byte, bitWidth int, n int32) error {
	var total uint64
	for i := 0; i < len(src); {
		u, k := binary.Uvarint(src[i:])
		if k <= 0 {
			return errors.New("corrupt run header")
		}
		i += k
		count := u >> 1
		if count > uint64(n)+7 {
			return fmt.Errorf("a run of more values than the page's %d", n)
		}
		if u&1 == 1 { // bit-packed groups of 8
			count *= 8
			i += int(count) * bitWidth / 8
		} else {
			i += (bitWidth + 7) / 8
		}
		if total += count; total > uint64(n)+7 {
			return fmt.Errorf("runs of more values than the page's %d", n)
		}
	}
	return nil
}

// checkValues checks the encoded values of a page, n of them at most.
func checkValues(enc format.Encoding, dictionary bool, data []byte, n int32) error {
	switch enc {
	//lint:ignore SA1019 PLAIN_DICTIONARY is deprecated, but older writers write it, and parquet-go reads it.
	case format.RLEDictionary, format.PlainDictionary:
		if dictionary || len(data) == 0 {
			// A dictionary's own values are plain.
			return nil
		}
		if data[0] > 32 {
			return fmt.Errorf("dictionary indexes of %d bits", data[0])
		}
		if err := checkRuns(data[1:], int(data[0]), n); err != nil {
			return fmt.Errorf("dictionary indexes: %v", err)
		}
	case format.DeltaBinaryPacked:
		if _, err := walkDeltas(data, n, nil); err != nil {
			return err
		}
	case format.DeltaLengthByteArray:
		var sum int64
		rest, err := walkDeltas(data, n, func(v int32) { sum += int64(v) })
		if err != nil {
			return fmt.Errorf("lengths: %v", err)
		}
		if sum > int64(len(rest)) {
			return fmt.Errorf("lengths summing to %d, more than the %d bytes after them", sum, len(rest))
		}
	case format.DeltaByteArray:
		var prefixes, suffixes int64
		rest, err := walkDeltas(data, n, func(v int32) { prefixes += int64(v) })
		if err != nil {
			return fmt.Errorf("prefix lengths: %v", err)
		}
		rest, err = walkDeltas(rest, n, func(v int32) { suffixes += int64(v) })
		if err != nil {
			return fmt.Errorf("suffix lengths: %v", err)
		}
		if suffixes > int64(len(rest)) {
			return fmt.Errorf("suffix lengths summing to %d, more than the %d bytes after them", suffixes, len(rest))
		}
		if prefixes+suffixes > maxPage {
			return fmt.Errorf("values of %d bytes, more than %d", prefixes+suffixes, maxPage)
		}
	}
	return nil
}

// walkDeltas walks a DELTA_BINARY_PACKED sequence of at most n values at
// the start of src, returning the bytes after it. If each is not nil, the
// values are decoded as 32-bit lengths, as parquet-go decodes them, each
// passed to it; a negative one is refused. Only a sequence as the format
// says is accepted (whole miniblocks, bit widths of at most 32 for
// lengths): parquet-go is more lenient, and sums what it decoded of one
// that isn't.
func walkDeltas(src []byte, n int32, each func(int32)) ([]byte, error) {
	var header [3]uint64
	for i := range header {
		u, k := binary.Uvarint(src)
		if k <= 0 {
			return nil, errors.New("corrupt delta header")
		}
		header[i], src = u, src[k:]
	}
	first, k := binary.Varint(src)
	if k <= 0 {
		return nil, errors.New("corrupt delta header")
	}
	src = src[k:]
	blockSize, miniBlocks, total := header[0], header[1], header[2]
	if blockSize == 0 || blockSize%128 != 0 || blockSize > 1<<16 || miniBlocks == 0 || miniBlocks > blockSize || (blockSize/miniBlocks)%32 != 0 {
		return nil, fmt.Errorf("corrupt delta header (block of %d values in %d miniblocks)", blockSize, miniBlocks)
	}
	if total > uint64(n) {
		return nil, fmt.Errorf("%d values, more than the page's %d", total, n)
	}
	if total == 0 {
		return src, nil
	}
	if each == nil {
		// Values other than lengths are not summed: their sequence is
		// bounded by its header.
		return src, nil
	}
	if first < math.MinInt32 || first > math.MaxInt32 {
		return nil, errors.New("corrupt delta header (first value)")
	}
	perMini := int(blockSize / miniBlocks)
	last := int32(first)
	if last < 0 {
		return nil, fmt.Errorf("negative length %d", last)
	}
	each(last)
	left := int(total) - 1
	for left > 0 {
		minDelta, k := binary.Varint(src)
		if k <= 0 || len(src)-k < int(miniBlocks) {
			return nil, errors.New("truncated delta block")
		}
		widths := src[k : k+int(miniBlocks)]
		src = src[k+int(miniBlocks):]
		for _, w := range widths {
			if left == 0 {
				break
			}
			if w > 32 {
				return nil, fmt.Errorf("deltas of %d bits", w)
			}
			size := perMini * int(w) / 8
			if size > len(src) {
				return nil, errors.New("truncated delta miniblock")
			}
			block := src[:size]
			src = src[size:]
			for j := range min(perMini, left) {
				last += int32(minDelta) + int32(unpack(block, j, int(w)))
				if last < 0 {
					return nil, fmt.Errorf("negative length %d", last)
				}
				each(last)
			}
			left -= min(perMini, left)
		}
	}
	return src, nil
}

// unpack returns the j-th value of w bits of the little-endian bit-packed
// block b.
func unpack(b []byte, j, w int) uint32 {
	var v uint32
	for i := range w {
		bit := j*w + i
		v |= uint32(b[bit/8]>>(bit%8)&1) << i
	}
	return v
}
