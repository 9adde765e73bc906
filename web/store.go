package web

import (
	"context"
	"encoding/json"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
	"github.com/loupehq/loupe/export"
	"github.com/loupehq/loupe/feedback"
)

// UserStore finds and changes users.
type UserStore interface {
	CreateUser(ctx context.Context, name, role, passHash string) (*loupe.User, error)
	UserByName(ctx context.Context, name string) (*loupe.User, error)
	UserByID(ctx context.Context, id string) (*loupe.User, error)
	UserByToken(ctx context.Context, token string) (*loupe.User, error)
	Users(ctx context.Context) ([]*loupe.User, error)
	SetUserDisabled(ctx context.Context, name string, disabled bool) error
}

// SessionStore keeps server-side sessions and sign-in failures.
type SessionStore interface {
	CreateSession(ctx context.Context, s *loupe.Session) error
	Session(ctx context.Context, id string) (*loupe.Session, error)
	SaveSession(ctx context.Context, s *loupe.Session) error
	DeleteSession(ctx context.Context, id string) error
	RecordLoginFailure(ctx context.Context, keys ...string) error
	LoginFailures(ctx context.Context, key string, window time.Duration) (int, time.Time, error)
	ClearLoginFailures(ctx context.Context, key string) error
}

// ProjectStore finds projects and manages their members and items.
type ProjectStore interface {
	CreateProject(ctx context.Context, slug, source string, cfg *blocks.Config, creator *loupe.User) (*annotate.Project, error)
	UpdateConfig(ctx context.Context, projectID, source string, cfg *blocks.Config, by *loupe.User) (int, error)
	ProjectAccess(ctx context.Context, slug string, u *loupe.User) (*annotate.Project, annotate.Access, error)
	Projects(ctx context.Context, u *loupe.User) ([]annotate.ProjectSummary, error)
	SetMember(ctx context.Context, projectID, userName, role string) error
	RemoveMember(ctx context.Context, projectID, userName string) error
	Members(ctx context.Context, projectID string) ([]annotate.Member, error)
	ImportItems(ctx context.Context, p *annotate.Project, r annotate.ItemReader, opt annotate.ImportOptions) (annotate.ImportResult, error)
	SampleItem(ctx context.Context, projectID string) (*annotate.Item, error)
	ImportPredictions(ctx context.Context, p *annotate.Project, dec *annotate.PredictionDecoder) (annotate.ImportResult, error)
}

// LabelStore is the labeling queue and the annotations made from it.
type LabelStore interface {
	Next(ctx context.Context, p *annotate.Project, userID string) (*annotate.Task, error)
	Task(ctx context.Context, p *annotate.Project, userID, itemID string) (*annotate.Task, error)
	Skip(ctx context.Context, p *annotate.Project, userID, itemID string) error
	Submit(ctx context.Context, p *annotate.Project, a annotate.Access, sub *annotate.Submission) (*annotate.Annotation, bool, error)
	Neighbors(ctx context.Context, projectID, userID, itemID string) (prev, next string, err error)
	Progress(ctx context.Context, p *annotate.Project, userID string) (annotate.Progress, error)
}

// ExportStore runs exports and keeps their snapshots.
type ExportStore interface {
	// Export runs an export into opt.Sink; with opt.Snapshot it also
	// records the named snapshot.
	Export(ctx context.Context, p *annotate.Project, spec export.Spec, opt export.Target) (*export.Manifest, error)
	// ExportSnapshot writes a snapshot's files again, byte for byte.
	ExportSnapshot(ctx context.Context, p *annotate.Project, name string, opt export.Target) (*export.Manifest, error)
	Snapshots(ctx context.Context, projectID string) ([]*export.SnapshotInfo, error)
}

// Suggester gives the models' suggestions for an item and learns from what
// labelers submit. The server works without one (no project then shows
// suggestions).
type Suggester interface {
	// Suggest returns, per block, the best suggestion for the item; inputs
	// are block values that replace item fields for models that read them,
	// and fresh asks live models again instead of using what is cached.
	Suggest(ctx context.Context, p *annotate.Project, item *annotate.Item, inputs map[string]json.RawMessage, fresh bool) (map[string]annotate.Suggestion, error)
	// Submitted tells the models about a new annotation version.
	Submitted(ctx context.Context, p *annotate.Project, a *annotate.Annotation)
	// Prefetch asks live models about the items the user will get next,
	// in the background.
	Prefetch(p *annotate.Project, userID string)
	// Status reports each model of the project.
	Status(ctx context.Context, p *annotate.Project) ([]annotate.ModelStatus, error)
}

// QualityStore reads what became of shown suggestions.
type QualityStore interface {
	ShownOutcomes(ctx context.Context, projectID string) ([]annotate.ShownOutcome, error)
}

// ReviewStore is the review queue and the verdicts given from it.
type ReviewStore interface {
	NextReview(ctx context.Context, p *annotate.Project, userID string) (*feedback.ReviewTask, error)
	ReviewTask(ctx context.Context, p *annotate.Project, itemID string) (*feedback.ReviewTask, error)
	SubmitReview(ctx context.Context, p *annotate.Project, reviewer *loupe.User, r *feedback.Review, revision string) (*feedback.Review, error)
	Items(ctx context.Context, projectID string, f feedback.ItemsFilter) ([]feedback.ItemStatus, int64, error)
	StateCounts(ctx context.Context, projectID string) (map[string]int, error)
	ItemAnnotations(ctx context.Context, itemID string) ([]*annotate.Annotation, error)
	RecordFeedback(ctx context.Context, p *annotate.Project, in *feedback.Incoming) (*feedback.Received, error)
}

// HistoryStore reads the history: events, every version, predictions, and
// the answers agreement is computed from.
type HistoryStore interface {
	Events(ctx context.Context, f feedback.EventFilter) ([]*feedback.Event, int64, error)
	EachEvent(ctx context.Context, f feedback.EventFilter, fn func(*feedback.Event) error) error
	ItemEvents(ctx context.Context, itemID string) ([]*feedback.Event, error)
	ItemVersions(ctx context.Context, itemID string) ([]*annotate.Annotation, error)
	ItemPredictions(ctx context.Context, itemID string) ([]annotate.Prediction, error)
	LastEvent(ctx context.Context, chain string) (int64, error)
	AgreementItems(ctx context.Context, projectID string, fn func(feedback.ItemAnswers) error) error
	RecordExport(ctx context.Context, projectID string, what map[string]any) error
}

// Store is everything the web server needs from storage.
type Store interface {
	UserStore
	SessionStore
	ProjectStore
	LabelStore
	ExportStore
	QualityStore
	ReviewStore
	HistoryStore
	Browser
}
