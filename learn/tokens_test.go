package learn

import (
	"slices"
	"testing"
)

func words(text string, possessive bool) []string {
	var out []string
	for _, t := range tokenize(text, nil, possessive) {
		if got := string([]rune(text)[t.r0:t.r1]); got != text[t.b0:t.b1] {
			panic("code point and byte offsets disagree: " + got)
		}
		out = append(out, text[t.b0:t.b1])
	}
	return out
}

func TestTokenize(t *testing.T) {
	tests := []struct {
		text       string
		possessive bool
		want       []string
	}{
		{"Don't stop!", false, []string{"Don't", "stop"}},
		{"don’t  O'Brien l'homme", false, []string{"don’t", "O'Brien", "l'homme"}},
		{"'quoted' rock 'n' roll", false, []string{"quoted", "rock", "n", "roll"}},
		{"Tromsø, 2024-05-17: 3.5 km", false, []string{"Tromsø", "2024", "05", "17", "3", "5", "km"}},
		{"naïve café (nai\u0308ve)", false, []string{"naïve", "café", "nai\u0308ve"}},
		{"I ❤️ Go 🚀🚀 now", false, []string{"I", "Go", "now"}},
		{"東京タワーに行く", false, []string{"東", "京", "タ", "ワ", "ー", "に", "行", "く"}},
		{"Москва и Київ", false, []string{"Москва", "и", "Київ"}},
		{"snake_case e-mail", false, []string{"snake", "case", "e", "mail"}},
		{"Anna's dog, James’s cat, it's", true, []string{"Anna", "'s", "dog", "James", "’s", "cat", "it", "'s"}},
		{"Anna's", false, []string{"Anna's"}},
		{"", false, nil},
		{"  ...  ", false, nil},
	}
	for _, tt := range tests {
		if got := words(tt.text, tt.possessive); !slices.Equal(got, tt.want) {
			t.Errorf("tokenize(%q, %v) = %q, want %q", tt.text, tt.possessive, got, tt.want)
		}
	}
}

func TestFeaturesLowerCase(t *testing.T) {
	var sc scratch
	a := slices.Clone(sc.features("Don’t PANIC"))
	b := slices.Clone(sc.features("don't panic"))
	if !slices.Equal(a, b) {
		t.Errorf("features differ by case or apostrophe: %v vs %v", a, b)
	}
	if len(a) != 3 { // don't, panic, "don't panic"
		t.Errorf("got %d features, want 3 (two words and a bigram)", len(a))
	}
	if got := sc.features("panic panic panic"); len(got) != 2 {
		t.Errorf("repeated words: got %d features, want 2 (each counted once)", len(got))
	}
}

// TestFeatureBuckets pins the hashing: snapshots store counts by bucket,
// so a change here silently breaks every stored model unless the snapshot
// version is bumped with it.
func TestFeatureBuckets(t *testing.T) {
	var sc scratch
	got := sc.features("good movie")
	want := []uint32{18282, 129119, 145821}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("buckets of %q = %v, want %v: the hash or tokeniser changed; bump ClassifierSnapshotVersion and update this test", "good movie", got, want)
	}
}
