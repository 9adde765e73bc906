package blocks

// Audio is a display block that plays a sound named by a field of the
// item: an http(s) URL, or a path in the project's media folder such as
// "clips/0001.mp3". Any other reference is not loaded; a note says why.
// A key (the config's, else "p" when free, else one from the pool) plays
// and pauses the sound.
type Audio struct {
	Base  `yaml:",inline"`
	Field string `yaml:"field" json:"field"`
	Key   string `yaml:"key,omitempty" json:"key,omitempty"`
}

// Check implements Block.
func (a *Audio) Check(c *Checker) {
	if a.Field == "" {
		c.Errorf("field", "an audio block needs the name of the item field that holds the sound's URL or media path")
	}
	if a.Key != "" && !optionKeyRE.MatchString(a.Key) {
		c.Errorf("key", "key %q must be one lower-case letter or digit", a.Key)
	}
}

// Fields implements FieldReader.
func (a *Audio) Fields() []string { return []string{a.Field} }

// KeyTargets implements Keyed: one key plays and pauses the sound.
func (a *Audio) KeyTargets() []KeyTarget {
	return []KeyTarget{{ID: "play", Key: a.Key, Prefer: "p", Action: "play or pause " + a.AccessibleName()}}
}

// SetKey implements Keyed.
func (a *Audio) SetKey(_, key string) { a.Key = key }

// Src returns the URL the block's sound loads from for a view's item, or
// "" when the item's reference is neither an http(s) URL nor a media path.
func (a *Audio) Src(v *View) string { return mediaSrc(v, v.Field(a.Field)) }

// AccessibleName returns the name of the player for screen readers.
func (a *Audio) AccessibleName() string {
	if t := a.Title(); t != "" {
		return t
	}
	return "the sound"
}

// LabelStudioObjects implements LabelStudioObjecter: an Audio object.
func (a *Audio) LabelStudioObjects() []LSObject { return []LSObject{{Tag: "Audio", Field: a.Field}} }
