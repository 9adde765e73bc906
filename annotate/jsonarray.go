package annotate

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// arrayScanner yields the elements of a JSON array one at a time, as raw
// bytes with the line each starts on, so that a file holding one huge
// array is read in constant memory: at most one element (MaxItemBytes) is
// held. It finds where an element ends by tracking strings and brackets;
// the element itself is then decoded, and checked, like a line of JSONL.
//
// json.Decoder is not used here: its Token/Decode pair buffers an element
// of any size before looking at it, and reports byte offsets, not lines.
type arrayScanner struct {
	r     *bufio.Reader
	line  int // the line the reader is on
	state int
	buf   []byte
	stack []byte // the closing bracket each open one wants, up to MaxJSONDepth
}

// States of an arrayScanner.
const (
	arrayStart = iota // before "["
	arrayFirst        // after "[": an element or "]"
	arrayAfter        // after an element: "," or "]"
	arrayEnd          // after "]": only white space may follow
	arrayDone         // nothing more can be read
)

func newArrayScanner(r io.Reader) *arrayScanner {
	return &arrayScanner{r: bufio.NewReaderSize(r, 64<<10), line: 1}
}

// fatal stops the scanner with an error for the line: what follows cannot
// be told apart into items.
func (a *arrayScanner) fatal(line int, format string, args ...any) ([]byte, int, error) {
	a.state = arrayDone
	return nil, line, lineErrorf(line, "%s; the rest of the file cannot be read", fmt.Sprintf(format, args...))
}

// next implements rawSource.
func (a *arrayScanner) next() ([]byte, int, error) {
	for {
		switch a.state {
		case arrayDone:
			return nil, a.line, io.EOF
		case arrayStart:
			if b, _ := a.r.Peek(3); string(b) == "\xef\xbb\xbf" {
				a.r.Discard(3)
			}
			c, err := a.skipSpace()
			if errors.Is(err, io.EOF) {
				a.state = arrayDone
				continue // an empty file holds no items
			} else if err != nil {
				return nil, a.line, err
			}
			if c != '[' {
				return a.fatal(a.line, "expected a JSON array of items ([{…}, {…}]), got %s", charName(c))
			}
			a.state = arrayFirst
		case arrayFirst, arrayAfter:
			c, err := a.skipSpace()
			if errors.Is(err, io.EOF) {
				return a.fatal(a.line, "the file ends before the array does (no closing ])")
			} else if err != nil {
				return nil, a.line, err
			}
			switch {
			case c == ']':
				a.state = arrayEnd
				continue
			case a.state == arrayAfter && c != ',':
				return a.fatal(a.line, "expected , or ] after an item, got %s", charName(c))
			case a.state == arrayAfter:
				if c, err = a.skipSpace(); errors.Is(err, io.EOF) {
					return a.fatal(a.line, "the file ends before the array does (no closing ])")
				} else if err != nil {
					return nil, a.line, err
				}
				if c == ']' {
					a.state = arrayEnd
					return nil, a.line, lineErrorf(a.line, "a comma before ]: JSON allows none after the last item")
				}
			}
			a.state = arrayAfter
			return a.element(c)
		case arrayEnd:
			c, err := a.skipSpace()
			if errors.Is(err, io.EOF) {
				a.state = arrayDone
				continue
			} else if err != nil {
				return nil, a.line, err
			}
			return a.fatal(a.line, "%s after the end of the array", charName(c))
		}
	}
}

// skipSpace returns the next byte that is not JSON white space.
func (a *arrayScanner) skipSpace() (byte, error) {
	for {
		c, err := a.r.ReadByte()
		if err != nil {
			return 0, err
		}
		switch c {
		case '\n':
			a.line++
		case ' ', '\t', '\r':
		default:
			return c, nil
		}
	}
}

// element reads the element that starts with c. Objects, arrays and
// strings are scanned a buffered chunk at a time.
func (a *arrayScanner) element(c byte) ([]byte, int, error) {
	start := a.line
	a.buf = append(a.buf[:0], c)
	a.stack = a.stack[:0]
	tooLong := false
	var depth int
	var inString bool
	switch c {
	case ',', '}', ']', ':':
		return a.fatal(start, "expected an item, got %s", charName(c))
	case '"':
		inString = true
	case '{', '[':
		depth = 1
		a.stack = append(a.stack, closer(c))
	default:
		return a.scalar(start)
	}
	escaped := false
	for done := false; !done; {
		chunk, err := a.chunk()
		if len(chunk) == 0 {
			if errors.Is(err, io.EOF) {
				return a.fatal(start, "the file ends inside the item that starts on this line")
			}
			return nil, a.line, fmt.Errorf("read line %d: %w", a.line, err)
		}
		i := 0
		for i < len(chunk) && !done {
			c := chunk[i]
			i++
			if c == '\n' {
				a.line++ // in a string it is invalid JSON: the decoder says so, with the right line
			}
			switch {
			case inString:
				switch {
				case escaped:
					escaped = false
				case c == '\\':
					escaped = true
				case c == '"':
					inString = false
					done = depth == 0
				}
			case c == '"':
				inString = true
			case c == '{' || c == '[':
				depth++
				if depth <= MaxJSONDepth {
					a.stack = append(a.stack, closer(c))
				}
			case c == '}' || c == ']':
				// Brackets are matched as far as the stack reaches: a
				// mismatch means the items can no longer be told apart.
				// Deeper ones only count, and the element is refused as
				// too deep anyway.
				if depth <= MaxJSONDepth {
					if want := a.stack[len(a.stack)-1]; c != want {
						return a.fatal(a.line, "invalid JSON: %s where %s was expected", charName(c), charName(want))
					}
					a.stack = a.stack[:len(a.stack)-1]
				}
				depth--
				done = depth == 0
			}
		}
		if len(a.buf)+i <= MaxItemBytes {
			a.buf = append(a.buf, chunk[:i]...)
		} else {
			tooLong = true
		}
		a.r.Discard(i)
	}
	if tooLong {
		return nil, start, lineErrorf(start, "item is longer than %d bytes", MaxItemBytes)
	}
	return a.buf, start, nil
}

// chunk returns the bytes buffered, reading more when there are none.
func (a *arrayScanner) chunk() ([]byte, error) {
	n := a.r.Buffered()
	if n == 0 {
		if _, err := a.r.Peek(1); err != nil {
			return nil, err
		}
		n = a.r.Buffered()
	}
	return a.r.Peek(n)
}

// scalar reads the rest of an element that is a number, true, false,
// null, or a stray word: up to the next delimiter, which is left for the
// array to read.
func (a *arrayScanner) scalar(start int) ([]byte, int, error) {
	for {
		b, err := a.r.Peek(1)
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, a.line, fmt.Errorf("read line %d: %w", a.line, err)
		}
		if c := b[0]; c == ',' || c == ']' || c == '}' || c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			break
		}
		a.r.ReadByte()
		if len(a.buf) < MaxItemBytes {
			a.buf = append(a.buf, b[0])
		} else {
			return a.fatal(start, "item is longer than %d bytes", MaxItemBytes)
		}
	}
	return a.buf, start, nil
}

func closer(open byte) byte {
	if open == '{' {
		return '}'
	}
	return ']'
}

// charName renders a byte of JSON syntax for a message.
func charName(c byte) string {
	if c >= 0x21 && c < 0x7f {
		return fmt.Sprintf("%q", string(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}
