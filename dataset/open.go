package dataset

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"

	"github.com/sattva/sattva/internal/fileguard"
)

// Compression of a dataset file, recognised from its first bytes.
type Compression int

const (
	Plain Compression = iota
	Gzip
	Zstd
)

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// maxZstdWindow bounds the memory of the zstd decoder (WithDecoderMaxWindow).
const maxZstdWindow = 64 << 20

// NewReader returns a reader of the decompressed contents of r, whose
// compression is detected from its first bytes (gzip, zstd or plain). Close
// releases the decoder; it does not close r.
func NewReader(r io.Reader) (io.ReadCloser, Compression, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	head, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, Plain, err
	}
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, Gzip, &FormatError{Msg: "bad gzip header", Err: err}
		}
		return zr, Gzip, nil
	case bytes.HasPrefix(head, zstdMagic):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, Zstd, &FormatError{Msg: "bad zstd stream", Err: err}
		}
		return zr.IOReadCloser(), Zstd, nil
	}
	return io.NopCloser(br), Plain, nil
}

// Open opens a dataset file (.jsonl, .jsonl.gz, .jsonl.zst; the contents
// decide) for streaming. Closing the result closes the file. A path that is
// not a regular file (a FIFO, /dev/zero) is refused before it is opened.
func Open(path string) (io.ReadCloser, error) {
	f, err := fileguard.Open(path)
	if err != nil {
		return nil, err
	}
	rc, _, err := NewReader(f)
	if err != nil {
		f.Close()
		if fe, ok := err.(*FormatError); ok {
			fe.File = path
		}
		return nil, err
	}
	return &fileReader{ReadCloser: rc, f: f}, nil
}

type fileReader struct {
	io.ReadCloser
	f *os.File
}

func (r *fileReader) Close() error {
	err := r.ReadCloser.Close()
	if err2 := r.f.Close(); err == nil {
		err = err2
	}
	return err
}
