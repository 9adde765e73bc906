package annotate

import (
	"bufio"
	"io"
)

// newLabelStudioReader reads Label Studio tasks: a JSON array of tasks, as
// Label Studio exports them, or JSONL, one task a line. A task is
// {"data": {...}, "id": 1, "annotations": [...], "predictions": [...]}
// with any of Label Studio's other keys (meta, created_at, inner_id, …),
// which are accepted and not kept; an object without "data" is taken
// whole as the data, as Label Studio does. See parseAnnotations and
// parsePredictions for the shapes of annotations and predictions.
func newLabelStudioReader(r io.Reader) ItemReader {
	br := bufio.NewReaderSize(r, 64<<10)
	parse := func(raw []byte, line int) (*ItemRecord, error) {
		obj, err := parseObject(raw, line)
		if err != nil {
			return nil, err
		}
		return itemFromObject(obj, line, true)
	}
	if firstByte(br) == '[' {
		return &jsonItems{src: newArrayScanner(br), parse: parse}
	}
	return &jsonItems{src: lineSource{&lineReader{r: br}}, parse: parse}
}

// firstByte returns the first byte of br that is not white space or part
// of a byte order mark, without reading it, or 0 when there is none within
// the buffer.
func firstByte(br *bufio.Reader) byte {
	const bom = "\xef\xbb\xbf"
	for n := 1; n <= br.Size(); n++ {
		b, _ := br.Peek(n)
		if len(b) < n {
			return 0
		}
		switch c := b[n-1]; {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
		case n <= 3 && string(b) == bom[:n]:
		default:
			return c
		}
	}
	return 0
}
