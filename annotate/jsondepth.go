package annotate

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// MaxJSONDepth is how deeply the JSON of one imported record may nest
// objects and arrays. encoding/json would recurse into far deeper values;
// no item, prediction or annotation needs more.
const MaxJSONDepth = 64

// checkRecordBytes returns what is wrong with the raw bytes of one record
// of an import file before any JSON is decoded from them: invalid UTF-8, a
// NUL byte, a NUL escaped as \u0000 (no database text column keeps it, and
// PostgreSQL refuses it), or nesting deeper than MaxJSONDepth. It returns
// "" when nothing is. Every JSON-reading path (jsonl, json, labelstudio,
// prodigy) goes through parseObject, which calls it.
//
// The scan is a single pass that tracks only string state and depth, so it
// costs a fraction of the decoding it guards and never recurses.
func checkRecordBytes(raw []byte) string {
	if !utf8.Valid(raw) {
		return "not valid UTF-8"
	}
	if bytes.IndexByte(raw, 0) >= 0 {
		return "holds a NUL byte"
	}
	depth := 0
	inString := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if inString {
			switch c {
			case '\\':
				if i+5 < len(raw) && raw[i+1] == 'u' && string(raw[i+2:i+6]) == "0000" {
					return `holds a NUL character (\u0000)`
				}
				i++ // the escaped character cannot end the string
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > MaxJSONDepth {
				return fmt.Sprintf("JSON is nested deeper than %d levels", MaxJSONDepth)
			}
		case '}', ']':
			depth--
		}
	}
	return ""
}
