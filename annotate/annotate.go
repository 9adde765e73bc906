// Package annotate holds Loupe's labeling domain: projects and their
// members, items, annotations and submissions, and the rules that govern
// them (who may do what, what a valid submission is, when an edit is
// stale). It does no I/O; storage applies these rules inside transactions.
package annotate

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/blocks"
)

// Project roles: what a member may do in one project.
const (
	RoleLabeler  = "labeler"  // labels items from the queue
	RoleReviewer = "reviewer" // sees every item and annotation
	RoleManager  = "manager"  // imports, exports, edits the config, adds members
)

// Limits.
const (
	MaxSlugLen       = 64
	MaxExternalIDLen = 256
	MaxClientIDLen   = 64
)

var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// Project is a set of items labeled through one interface.
type Project struct {
	ID            string
	Slug          string
	Title         string
	ConfigVersion int
	Config        *blocks.Config
	ConfigSource  string
	CreatedAt     time.Time

	ItemCount     int // items in the project
	CompleteCount int // items with as many annotations as the overlap asks
}

// Member is a user's role in a project.
type Member struct {
	ProjectID string
	UserID    string
	UserName  string
	Role      string
	AddedAt   time.Time
}

// ValidateSlug returns EINVALID unless slug is a usable project slug.
func ValidateSlug(slug string) error {
	switch {
	case slug == "":
		return loupe.FieldErrorf("slug", "slug is required")
	case len(slug) > MaxSlugLen:
		return loupe.FieldErrorf("slug", "slug is longer than %d characters", MaxSlugLen)
	case !slugRE.MatchString(slug):
		return loupe.FieldErrorf("slug", "slug %q may hold only lower-case letters, digits and '-', and must start with a letter or digit", slug)
	}
	return nil
}

// Slugify derives a slug from a title: "Product review sentiment" becomes
// "product-review-sentiment".
func Slugify(title string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(title) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case b.Len() > 0 && !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.TrimRight(b.String(), "-")
	if len(s) > MaxSlugLen {
		s = strings.TrimRight(s[:MaxSlugLen], "-")
	}
	if s == "" {
		s = "project"
	}
	return s
}

// ValidateProjectRole returns EINVALID unless role is a project role.
func ValidateProjectRole(role string) error {
	switch role {
	case RoleLabeler, RoleReviewer, RoleManager:
		return nil
	}
	return loupe.FieldErrorf("role", "project role %q is unknown; use labeler, reviewer or manager", role)
}

// Access is what one user may do in one project: their global role and
// their project role ("" when they are not a member).
type Access struct {
	User *loupe.User
	Role string
}

// CanView reports whether the user may see the project at all. A user who
// cannot view a project is told it does not exist.
func (a Access) CanView() bool { return a.User.IsAdmin() || (a.Role != "" && !a.User.Disabled) }

// CanLabel reports whether the user may take items from the queue and
// submit annotations.
func (a Access) CanLabel() bool {
	return a.User.IsAdmin() || a.CanView() && (a.Role == RoleLabeler || a.Role == RoleManager)
}

// CanManage reports whether the user may import items, change members and
// edit the project's config.
func (a Access) CanManage() bool { return a.User.IsAdmin() || a.CanView() && a.Role == RoleManager }

// CanExport reports whether the user may export the project's annotations.
func (a Access) CanExport() bool { return a.CanManage() }

// Item is one record to annotate.
type Item struct {
	ID         string
	ProjectID  string
	Seq        int64
	ExternalID string
	Data       map[string]any
	Hash       string
	CreatedAt  time.Time
}

// Annotation is one labeler's values for all blocks of an item, at its
// current version. Edits append versions; none is ever overwritten.
type Annotation struct {
	ID            string
	ProjectID     string
	ItemID        string
	UserID        string
	UserName      string
	Version       int
	ConfigVersion int
	Values        map[string]json.RawMessage
	ClientID      string
	LeadMS        int64
	CreatedAt     time.Time // when version 1 was made
	UpdatedAt     time.Time // when this version was made
	// AuthorName is who made this version when it was not the labeler: the
	// reviewer who fixed it. "" otherwise.
	AuthorName string
}

// Submission is a labeler's request to store values for an item: a first
// annotation (BaseVersion 0) or an edit of the version they saw.
type Submission struct {
	ItemID      string
	Values      map[string]json.RawMessage
	ClientID    string // client-generated id; a retry with the same id stores nothing new
	BaseVersion int    // the version the edit is based on; 0 for a first annotation
	LeadMS      int64  // time spent on the item, as measured by the client
	// Shown records the suggestion each block showed when the labeler
	// answered (block → {model, version, score, value, id}), so that
	// accepted, edited and rejected suggestions can be counted.
	Shown map[string]json.RawMessage
}

// Validate checks the submission's fields and its values against the
// project's interface and the item's data, replacing the values with their
// canonical form. It returns EINVALID naming the field at fault.
func (s *Submission) Validate(cfg *blocks.Config, item *Item) error {
	if len(s.ClientID) > MaxClientIDLen {
		return loupe.FieldErrorf("client_id", "client_id is longer than %d characters", MaxClientIDLen)
	}
	if s.BaseVersion < 0 {
		return loupe.FieldErrorf("base_version", "base_version must not be negative")
	}
	if s.LeadMS < 0 {
		s.LeadMS = 0
	}
	vals, err := cfg.Interface().ValidateValues(s.Values, item.Data)
	if err != nil {
		return err
	}
	s.Values = vals
	return nil
}

// CheckBase applies the no-silent-overwrite rule: a first annotation needs
// no base, and an edit must be based on the current version. cur is the
// user's current annotation of the item, or nil. It returns ECONFLICT when
// the submission is stale.
func CheckBase(cur *Annotation, base int) error {
	switch {
	case cur == nil && base == 0:
		return nil
	case cur == nil:
		return loupe.FieldErrorf("base_version", "there is no annotation to edit; send base_version 0 for a first annotation")
	case base == 0:
		return &loupe.Error{Code: loupe.ECONFLICT, Field: "base_version", Message: "this item is already annotated (version " + strconv.Itoa(cur.Version) + "); send base_version to edit it"}
	case base != cur.Version:
		return &loupe.Error{Code: loupe.ECONFLICT, Field: "base_version", Message: "the annotation changed since you opened it: you edited version " + strconv.Itoa(base) + ", the current version is " + strconv.Itoa(cur.Version)}
	}
	return nil
}

// LeaseDuration is how long an item given out by the queue is held for its
// labeler before others may take its slot.
func LeaseDuration(cfg *blocks.Config) time.Duration {
	return time.Duration(cfg.LeaseMinutes) * time.Minute
}

// Progress counts work done in a project.
type Progress struct {
	MyDone       int // items the user annotated
	MySkipped    int // items the user skipped
	MyTotal      int // MyDone plus the open items the user may still get
	ProjectDone  int // items with all the annotations the overlap asks for
	ProjectTotal int // items in the project
}

// Task is what the queue hands a labeler: an item, held for them until
// LeaseUntil, and their current annotation of it when they revisit it.
type Task struct {
	Item       *Item
	Annotation *Annotation
	Status     string // the item's state for this labeler; "" when never given to them
	LeaseUntil time.Time
	// Returned is set when a reviewer sent the labeler's annotation back
	// to them, until they submit a fix.
	Returned *Return
}

// Return is a reviewer's rejection of a labeler's annotation, as the
// labeler sees it.
type Return struct {
	ReviewID string
	Reviewer string
	Comment  string
	At       time.Time
}

// CanReview reports whether the user may review the project's items:
// take them from the review queue, approve, reject, fix and adjudicate, and
// read every item's history and the project's audit log.
func (a Access) CanReview() bool {
	return a.User.IsAdmin() || a.CanView() && (a.Role == RoleReviewer || a.Role == RoleManager)
}

// CanSeeAllItems reports whether the user may open any item of the project,
// not only those the queue gave them.
func (a Access) CanSeeAllItems() bool {
	return a.User.IsAdmin() || a.CanView() && (a.Role == RoleReviewer || a.Role == RoleManager)
}

// ProjectSummary is a project as listed for one user.
type ProjectSummary struct {
	Slug          string
	Title         string
	ItemCount     int
	CompleteCount int
	Role          string // the user's project role; "" for an admin who is not a member
}

// ErrQueueEmpty is returned when no item is left for the labeler.
var ErrQueueEmpty = &loupe.Error{Code: loupe.ENOTFOUND, Message: "no items are left for you in this project"}

// Assignment states of an item for one labeler.
const (
	StatusLeased  = "leased"  // given out and held until the lease ends
	StatusDone    = "done"    // annotated
	StatusSkipped = "skipped" // passed over; not offered again
)

// ImportResult counts what an import did.
type ImportResult struct {
	Added       int `json:"added"`       // new items (for a predictions file: items given predictions)
	Unchanged   int `json:"unchanged"`   // items already present with the same data (by id, or by content when there is no id)
	Predictions int `json:"predictions"` // prediction rows stored (one per block of each prediction)
	Annotations int `json:"annotations"` // annotations that came with the items
}

// How an import matches items already in the project, so that importing a
// file twice adds nothing.
const (
	DedupeID   = "id"   // by external id; items without one by content hash (the default)
	DedupeHash = "hash" // by content hash alone, whatever the ids
	DedupeNone = "none" // never: every line is a new item (an external id already present is an error)
)

// DedupeModes lists the dedupe modes.
var DedupeModes = []string{DedupeID, DedupeHash, DedupeNone}

// ImportOptions tune an import.
type ImportOptions struct {
	Format string // the file's format, recorded with the import
	Dedupe string // DedupeID when empty
	// Progress is called after each batch with the records read and the
	// items added so far.
	Progress func(read, added int)
}

// MaxImportErrors is how many bad lines an import reports before it stops
// reading.
const MaxImportErrors = 20

// Sources of predictions.
const (
	SourceImport   = "import"   // came with the items, or loupe import --predictions
	SourceLive     = "live"     // asked of a live model
	SourceBuiltin  = "builtin"  // made by Loupe's own learner
	SourceFeedback = "feedback" // sent with feedback through the feedback API
)

// Prediction is a model's value for one block of an item.
type Prediction struct {
	ID           string
	ProjectID    string
	ItemID       string
	Block        string
	Value        json.RawMessage
	Score        *float64 // nil when the model gives none
	Model        string
	ModelVersion string
	Source       string
	// InputHash is "" for a prediction over the item's own data, else a hash
	// of the edited inputs it was asked with.
	InputHash string
	CreatedAt time.Time
}

// PredictionRecord is a prediction read from an import file: one model's
// values for some blocks of an item.
type PredictionRecord struct {
	Model   string
	Version string
	Score   *float64
	Values  map[string]json.RawMessage
	// LSResults holds the result items of a prediction in Label Studio's
	// shape until Resolve maps them to Values through the interface.
	LSResults []blocks.LSResult
}

// ModelCall is one call Loupe made to a live model, kept for the model
// status page.
type ModelCall struct {
	ProjectID string
	Model     string
	At        time.Time
	OK        bool
	Latency   time.Duration
	Error     string // what went wrong, never the response body
}

// LearnerState is a stored snapshot of the builtin learner for one block:
// its state, and up to which annotation version it has learned.
type LearnerState struct {
	ProjectID     string
	Model         string
	Block         string
	ConfigVersion int
	State         []byte
	Upto          string // position of the last annotation version learned
	Examples      int
	UpdatedAt     time.Time
}

// VersionChange is one annotation version as the learner sees it: the
// values it holds, the values of the version it replaced (nil for a first
// version), and its item's data. Position orders changes.
type VersionChange struct {
	Position string
	Values   map[string]json.RawMessage
	Previous map[string]json.RawMessage
	Data     map[string]any
}
