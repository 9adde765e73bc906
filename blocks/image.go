package blocks

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxImageHeight is the largest max_height an image block may set, in
// CSS pixels.
const MaxImageHeight = 4000

// Image is a display block that shows an image named by a field of the
// item: an http(s) URL, or a path in the project's media folder such as
// "photos/cat.png". Any other reference (javascript:, data:, file:, …)
// is not loaded; a note says why.
type Image struct {
	Base      `yaml:",inline"`
	Field     string `yaml:"field" json:"field"`
	AltField  string `yaml:"alt_field,omitempty" json:"alt_field,omitempty"`
	MaxHeight int    `yaml:"max_height,omitempty" json:"max_height,omitempty"`
}

// Check implements Block.
func (im *Image) Check(c *Checker) {
	if im.Field == "" {
		c.Errorf("field", "an image block needs the name of the item field that holds the image's URL or media path")
	}
	if c.Has("alt_field") && im.AltField == "" {
		c.Errorf("alt_field", "must name an item field, or be left out")
	}
	if c.Has("max_height") && (im.MaxHeight < 1 || im.MaxHeight > MaxImageHeight) {
		c.Errorf("max_height", "max_height is in pixels, between 1 and %d; got %d", MaxImageHeight, im.MaxHeight)
	}
}

// Fields implements FieldReader: the image is required, its alt text is
// not.
func (im *Image) Fields() []string { return []string{im.Field} }

// Alt returns the image's text alternative for an item: the alt field when
// the item has it, else the block's title, else a generic one.
func (im *Image) Alt(data map[string]any) string {
	if im.AltField != "" {
		if s := FieldText(data, im.AltField); s != "" {
			return s
		}
	}
	if t := im.Title(); t != "" {
		return t
	}
	return "image from field " + im.Field
}

// Src returns the URL the block's image loads from for a view's item, or ""
// when the item's reference is neither an http(s) URL nor a media path.
func (im *Image) Src(v *View) string { return mediaSrc(v, v.Field(im.Field)) }

// mediaSrc is the URL a display block loads a media reference from, or ""
// when View.Media refuses it.
func mediaSrc(v *View, ref string) string { return v.Media(ref) }

// MaxMediaPath is the longest media path, in bytes.
const MaxMediaPath = 1024

// IsMediaPath reports whether p is a path that may name a file of a
// project's media folder: relative, separated by "/", with no empty, "."
// or ".." segment, no hidden (dot) file or folder, and no backslash,
// colon or control character, so that it means the same on every system
// and cannot climb out of the folder.
func IsMediaPath(p string) bool {
	if p == "" || len(p) > MaxMediaPath || !utf8.ValidString(p) {
		return false
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg[0] == '.' {
			return false
		}
	}
	return !strings.ContainsFunc(p, func(r rune) bool { return r == '\\' || r == ':' || unicode.IsControl(r) })
}

// LabelStudioObjects implements LabelStudioObjecter: an Image object.
func (im *Image) LabelStudioObjects() []LSObject {
	return []LSObject{{Tag: "Image", Field: im.Field}}
}
