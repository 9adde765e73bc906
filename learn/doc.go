// Package learn is Loupe's built-in learner: small models that learn from
// annotations as they are submitted and suggest values for labeling blocks,
// with no network and no I/O.
//
//   - A Classifier suggests labels for choice (one label) and multichoice
//     (several labels) blocks from the text of an item: naive Bayes over
//     hashed word unigrams and bigrams, with probabilities tempered so that
//     they behave like probabilities.
//   - A SpanSuggester suggests spans for spans blocks: a dictionary of the
//     phrases labelers marked, matched on word boundaries.
//
// Both learn incrementally (Learn), forget exactly (Unlearn, so that an
// edited annotation replaces its earlier version by Unlearn of the old
// value and Learn of the new one), and save their state as a compact,
// versioned snapshot (MarshalBinary, UnmarshalBinary) that other packages
// store. Both are safe for concurrent use.
//
// The package uses the standard library only. Its errors are plain
// sentinel errors (ErrNotLearned, ErrSnapshot, ErrSnapshotVersion,
// ErrSnapshotMismatch) matched with errors.Is; callers report a refused
// snapshot as a reason to retrain from the stored annotations.
package learn

import "errors"

// Errors returned by the learners.
var (
	// ErrNotLearned: Unlearn was asked to forget an example the learner
	// does not hold; nothing was changed.
	ErrNotLearned = errors.New("learn: example was not learned")
	// ErrSnapshot: the bytes are not a snapshot of this kind of learner, or
	// are truncated or corrupt.
	ErrSnapshot = errors.New("learn: not a valid snapshot")
	// ErrSnapshotVersion: the snapshot was written in a format version this
	// build does not read; retrain from the annotations.
	ErrSnapshotVersion = errors.New("learn: unsupported snapshot version")
	// ErrSnapshotMismatch: the snapshot is valid but of another shape (a
	// single-label snapshot for a multi-label classifier, or another
	// number of hash buckets).
	ErrSnapshotMismatch = errors.New("learn: snapshot does not fit this learner")
)
