package predict

import (
	"context"
	"encoding/json"
	"math"

	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
)

// Rescore sets the queue priority of every open item of a project ordered
// by uncertainty or disagreement (lower first), one batch per short write,
// so that next-item never waits behind it.
//
//   - uncertainty: the builtin learner's margin between its top two labels;
//     without a learner, 1 − |2·score − 1| of the best stored prediction
//     turned around (a score near 0.5 is unsure); items nobody predicted
//     sit at 0.5.
//   - disagreement: −(distinct answers − 1) over the models' top answers
//     per block (the learner and each live model), so items the models
//     disagree on come first, the most disputed first; ties go to the less
//     certain.
func (s *Service) Rescore(ctx context.Context, p *annotate.Project) error {
	order := p.Config.Order
	if order != blocks.OrderUncertainty && order != blocks.OrderDisagreement {
		return nil
	}
	learners := s.builtins(ctx, p)
	var after int64
	for {
		items, err := s.store.OpenItems(ctx, p.ID, after, rescoreBatch)
		if err != nil {
			return err
		}
		prio := make(map[string]float64, len(items))
		for _, it := range items {
			preds, err := s.store.ItemPredictions(ctx, it.ID)
			if err != nil {
				return err
			}
			margin := s.margin(learners, it, preds)
			if order == blocks.OrderUncertainty {
				prio[it.ID] = margin
			} else {
				prio[it.ID] = -float64(disagreement(learners, it, preds)) + 0.01*margin
			}
		}
		if len(prio) > 0 {
			if err := s.store.SetPriorities(ctx, p.ID, prio); err != nil {
				return err
			}
		}
		if len(items) < rescoreBatch {
			return nil
		}
		after = items[len(items)-1].Seq
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closing:
			return nil
		default:
		}
	}
}

// margin is how sure the models are about an item, from 0 (a toss-up) to
// 1 (certain).
func (s *Service) margin(learners []*learner, it *annotate.Item, preds []annotate.Prediction) float64 {
	for _, l := range learners {
		if m, ok := l.margin(it.Data); ok {
			return m
		}
	}
	best := -1.0
	for _, p := range preds {
		if p.Score != nil && *p.Score > best {
			best = *p.Score
		}
	}
	if best < 0 {
		return 0.5
	}
	return math.Abs(2*best - 1)
}

// disagreement counts, for the block the models disagree on most, how many
// different answers beyond the first they give.
func disagreement(learners []*learner, it *annotate.Item, preds []annotate.Prediction) int {
	answers := map[string]map[string]bool{} // block → distinct answers
	add := func(block, answer string) {
		if answers[block] == nil {
			answers[block] = map[string]bool{}
		}
		answers[block][answer] = true
	}
	for _, l := range learners {
		if top, ok := l.top(it.Data); ok {
			add(l.block, canonical(json.RawMessage(top)))
		}
	}
	for _, sg := range newestPerModel(preds) {
		add(sg.Block, canonical(sg.Value))
	}
	most := 0
	for _, set := range answers {
		most = max(most, len(set)-1)
	}
	return most
}
