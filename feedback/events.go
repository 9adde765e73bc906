// Package feedback holds Loupe's history and review domain: the append-only
// events that record every change (annotations, feedback, reviews,
// administrative changes), their hash chain, review verdicts, item states,
// the review policy that decides which items a reviewer sees, and
// agreement between labelers. It does no I/O: storage writes the events in
// the same transaction as the change they record.
package feedback

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Event kinds.
const (
	KindProjectCreated      = "project.created"
	KindConfigChanged       = "config.changed"
	KindMemberAdded         = "member.added"
	KindMemberRoleChanged   = "member.role_changed"
	KindMemberRemoved       = "member.removed"
	KindItemsImported       = "items.imported"
	KindPredictionsImported = "predictions.imported"
	KindAnnotationCreated   = "annotation.created"
	KindAnnotationEdited    = "annotation.edited"
	KindItemSkipped         = "item.skipped"
	KindFeedback            = "feedback"
	KindReviewQueued        = "review.queued"
	KindReviewApproved      = "review.approved"
	KindReviewRejected      = "review.rejected"
	KindReviewFixed         = "review.fixed"
	KindReviewAdjudicated   = "review.adjudicated"
	KindExportMade          = "export.made"
	KindUserCreated         = "user.created"
	KindUserDisabled        = "user.disabled"
	KindUserEnabled         = "user.enabled"
	KindPasswordChanged     = "user.password_changed"
	KindTokenCreated        = "token.created"
)

// Kinds lists every event kind, for filters.
var Kinds = []string{KindProjectCreated, KindConfigChanged, KindMemberAdded, KindMemberRoleChanged, KindMemberRemoved,
	KindItemsImported, KindPredictionsImported, KindAnnotationCreated, KindAnnotationEdited, KindItemSkipped,
	KindFeedback, KindReviewQueued, KindReviewApproved, KindReviewRejected, KindReviewFixed, KindReviewAdjudicated,
	KindExportMade, KindUserCreated, KindUserDisabled, KindUserEnabled, KindPasswordChanged, KindTokenCreated}

// ServerChain is the chain of events that belong to no project (users,
// tokens).
const ServerChain = ""

// TimeLayout is how an event's time is written, in storage and in its
// hash: microseconds, UTC.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// Event is one entry of the history. Events are only ever appended, in the
// same transaction as the change they record. Each event's Hash covers its
// content and the hash of the event before it in the same chain (the
// project's, or the server's), so that changing, removing or reordering a
// stored event breaks the chain from there on.
type Event struct {
	Seq      int64     `json:"seq"` // position among all events (storage)
	ID       string    `json:"id"`  // a UUID
	Chain    string    `json:"chain"`
	ChainSeq int64     `json:"chain_seq"` // 1, 2, … within the chain
	At       time.Time `json:"at"`

	ActorID   string `json:"actor_id"` // "" for Loupe itself and the command line
	ActorName string `json:"actor"`
	Kind      string `json:"kind"`

	// What the event is about; empty when not applicable.
	ItemID            string `json:"item_id,omitempty"`
	AnnotationID      string `json:"annotation_id,omitempty"`
	AnnotationVersion int    `json:"annotation_version,omitempty"`
	PredictionID      string `json:"prediction_id,omitempty"`
	Block             string `json:"block,omitempty"`

	Payload json.RawMessage `json:"payload"` // canonical JSON object

	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
}

// ProjectID is the project the event belongs to ("" for server events).
func (e *Event) ProjectID() string { return e.Chain }

// Digest computes the event's hash: SHA-256, hex, over its previous hash
// and a fixed encoding of every field but Seq and Hash.
func (e *Event) Digest() string {
	h := sha256.New()
	field := func(s string) {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	field("loupe-event-v1")
	field(e.PrevHash)
	field(e.ID)
	field(e.Chain)
	field(strconv.FormatInt(e.ChainSeq, 10))
	field(e.At.UTC().Format(TimeLayout))
	field(e.ActorID)
	field(e.ActorName)
	field(e.Kind)
	field(e.ItemID)
	field(e.AnnotationID)
	field(strconv.Itoa(e.AnnotationVersion))
	field(e.PredictionID)
	field(e.Block)
	field(string(e.Payload))
	return hex.EncodeToString(h.Sum(nil))
}

// Seal sets the event's place in its chain and its hash, after the event
// last in the chain (nil for the first).
func (e *Event) Seal(last *Event) {
	e.ChainSeq, e.PrevHash = 1, ""
	if last != nil {
		e.ChainSeq, e.PrevHash = last.ChainSeq+1, last.Hash
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	e.Hash = e.Digest()
}

// Verifier walks one chain in order and finds the first event that does
// not fit.
type Verifier struct {
	n    int64
	prev string
}

// Check checks the next event of the chain: its position, its link to the
// event before and its own hash. It returns an error naming the event and
// what is wrong.
func (v *Verifier) Check(e *Event) error {
	switch {
	case e.ChainSeq != v.n+1:
		return fmt.Errorf("event %d (%s, %s): expected event %d of the chain: an event is missing or out of place", e.ChainSeq, e.ID, e.Kind, v.n+1)
	case e.PrevHash != v.prev:
		return fmt.Errorf("event %d (%s, %s): does not link to the event before it: an event before it was changed or removed", e.ChainSeq, e.ID, e.Kind)
	case e.Digest() != e.Hash:
		return fmt.Errorf("event %d (%s, %s): its content does not match its hash: it was changed", e.ChainSeq, e.ID, e.Kind)
	}
	v.n, v.prev = e.ChainSeq, e.Hash
	return nil
}

// Count is how many events passed.
func (v *Verifier) Count() int64 { return v.n }

// Payload encodes a payload as canonical JSON (keys sorted).
func Payload(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	var x any
	if json.Unmarshal(b, &x) != nil {
		return b
	}
	out, _ := json.Marshal(x)
	return out
}
