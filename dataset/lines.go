package dataset

import (
	"bufio"
	"context"
	"errors"
	"io"
)

// lineReader splits a stream into lines without holding more than
// maxLine bytes of any one line. A longer line is consumed and reported as
// too long; its content is dropped. It checks ctx at every megabyte of an
// over-long line, so a stream without newlines (/dev/zero) can be stopped.
type lineReader struct {
	ctx     context.Context
	br      *bufio.Reader
	maxLine int
	buf     []byte
	line    int64
	offset  int64 // bytes consumed
}

func newLineReader(ctx context.Context, r io.Reader, maxLine int) *lineReader {
	return &lineReader{ctx: ctx, br: bufio.NewReaderSize(r, 1<<20), maxLine: maxLine}
}

// next returns the next line without its "\n" (and without a final "\r"),
// valid until the following call; tooLong is set when the line exceeded the
// limit (then b is nil). It returns io.EOF after the last line.
func (lr *lineReader) next() (b []byte, tooLong bool, err error) {
	frag, err := lr.br.ReadSlice('\n')
	if err == nil || (errors.Is(err, io.EOF) && len(frag) > 0) {
		lr.line++
		lr.offset += int64(len(frag))
		if len(frag) > lr.maxLine+1 {
			return nil, true, nil
		}
		return trimEOL(frag), false, nil
	}
	if errors.Is(err, io.EOF) {
		return nil, false, io.EOF
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		return nil, false, err
	}
	// A line longer than the buffer: accumulate up to the limit.
	lr.buf = append(lr.buf[:0], frag...)
	n := int64(len(frag))
	for {
		if err := lr.ctx.Err(); err != nil {
			return nil, false, err
		}
		frag, err = lr.br.ReadSlice('\n')
		n += int64(len(frag))
		if len(lr.buf) <= lr.maxLine {
			lr.buf = append(lr.buf, frag...)
		}
		if err == nil || errors.Is(err, io.EOF) {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, false, err
		}
	}
	lr.line++
	lr.offset += n
	if len(lr.buf) > lr.maxLine+1 || n > int64(lr.maxLine)+1 {
		if cap(lr.buf) > 4<<20 {
			lr.buf = nil // do not keep a huge buffer for the rest of the file
		}
		return nil, true, nil
	}
	return trimEOL(lr.buf), false, nil
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}
