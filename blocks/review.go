package blocks

import (
	"go.yaml.in/yaml/v3"
)

// Review policies: which items a reviewer sees.
const (
	PolicyAll               = "all"                // every item once annotated
	PolicySample            = "sample"             // a fixed random sample_percent of items
	PolicyDisagreement      = "disagreement"       // items where labelers answered differently
	PolicyModelDisagreement = "model_disagreement" // items whose answer differs from the model's prediction
	PolicyLowConfidence     = "low_confidence"     // items with a prediction scoring below low_confidence
	PolicyFlagged           = "flagged"            // items a labeler flagged
	PolicyFeedback          = "feedback"           // items that got feedback through the feedback API
)

// ReviewConfig is a project's `review:` section.
//
//	review:
//	  policy: [disagreement, flagged, sample]
//	  sample_percent: 10
//	  low_confidence: 0.6
//	  labelers_see_others: false
type ReviewConfig struct {
	Policy        []string `yaml:"policy" json:"policy"`
	SamplePercent float64  `yaml:"sample_percent,omitempty" json:"sample_percent,omitempty"`
	LowConfidence float64  `yaml:"low_confidence,omitempty" json:"low_confidence,omitempty"`
	// LabelersSeeOthers shows labelers the other labelers' answers to an
	// item; by default they never see them (reviewers always do).
	LabelersSeeOthers bool `yaml:"labelers_see_others,omitempty" json:"labelers_see_others,omitempty"`
}

// Has reports whether the policy includes p.
func (r *ReviewConfig) Has(p string) bool {
	if r == nil {
		return false
	}
	for _, x := range r.Policy {
		if x == p {
			return true
		}
	}
	return false
}

// UnmarshalYAML reads the review section strictly.
func (r *ReviewConfig) UnmarshalYAML(n *yaml.Node) error {
	if err := strictKeys(n, r); err != nil {
		return err
	}
	type plain ReviewConfig
	return n.Decode((*plain)(r))
}

// checkReview validates the review section.
func (p *parser) checkReview(cfg *Config, base *Base) {
	rc := cfg.Review
	if rc == nil {
		return
	}
	c := &Checker{p: p, block: base}
	known := []string{PolicyAll, PolicySample, PolicyDisagreement, PolicyModelDisagreement, PolicyLowConfidence, PolicyFlagged, PolicyFeedback}
	for _, pol := range rc.Policy {
		ok := false
		for _, k := range known {
			ok = ok || k == pol
		}
		if !ok {
			c.Errorf("review", "review policy %q is unknown; use %s", pol, quoteList(known))
		}
	}
	if len(rc.Policy) == 0 {
		c.Errorf("review", "review.policy lists what reviewers see: %s", quoteList(known))
	}
	if rc.Has(PolicySample) && rc.SamplePercent == 0 {
		rc.SamplePercent = 10
	}
	if rc.SamplePercent < 0 || rc.SamplePercent > 100 {
		c.Errorf("review", "review.sample_percent must be between 0 and 100, got %g", rc.SamplePercent)
	}
	if rc.Has(PolicyLowConfidence) && rc.LowConfidence == 0 {
		rc.LowConfidence = 0.6
	}
	if rc.LowConfidence < 0 || rc.LowConfidence > 1 {
		c.Errorf("review", "review.low_confidence must be between 0 and 1, got %g", rc.LowConfidence)
	}
	// model_disagreement and low_confidence need no predictions section:
	// imported predictions count as much as live ones.
}
